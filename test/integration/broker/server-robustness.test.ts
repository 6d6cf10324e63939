/**
 * The broker's server against hostile connections: random bytes, huge and negative frame
 * sizes, truncated requests, unknown API keys and versions, forged array counts. Each bad
 * connection is closed with a logged reason naming the client, API and byte position; the
 * broker keeps serving a well-behaved kafkajs client throughout.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { after, test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import type { BrokerLogger } from '../../../log/broker/broker-logger.js';
import { eventually, startTestBroker } from '../../support/test-broker.js';

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

const warnings: { fields: Readonly<Record<string, unknown>>; message: string }[] = [];
const ignore = () => {};
const logger: BrokerLogger = {
  debug: ignore,
  info: ignore,
  error: ignore,
  warn: (fields, message) => warnings.push({ fields, message }),
};
const broker = await startTestBroker(after, { logger, limits: { maxRequestBytes: 1024 * 1024 } });

/** A request frame: size, api key, version, correlation id, client id, body. */
function frame(apiKey: number, apiVersion: number, body: Buffer = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(10);
  header.writeInt16BE(apiKey, 0);
  header.writeInt16BE(apiVersion, 2);
  header.writeInt32BE(7, 4);
  header.writeInt16BE(-1, 8);
  const size = Buffer.alloc(4);
  size.writeInt32BE(header.length + body.length, 0);
  return Buffer.concat([size, header, body]);
}

/** Sends bytes on a fresh connection; resolves with what came back once the server closes it. */
function sendRaw(
  bytes: Buffer,
  closeAfterMs?: number,
): Promise<{ closedByServer: boolean; received: Buffer }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(broker.port, broker.host);
    const received: Buffer[] = [];
    let closedByUs = false;
    socket.on('data', (chunk) => received.push(chunk));
    socket.on('error', () => {});
    socket.on('close', () =>
      resolve({ closedByServer: !closedByUs, received: Buffer.concat(received) }),
    );
    socket.on('connect', () => {
      socket.write(bytes);
      if (closeAfterMs !== undefined) {
        setTimeout(() => {
          closedByUs = true;
          socket.destroy();
        }, closeAfterMs);
      }
    });
    setTimeout(() => reject(new Error('server neither answered nor closed')), 20_000).unref();
  });
}

const int32 = (value: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(value, 0);
  return b;
};

const hostile: [string, Buffer, RegExp][] = [
  ['a frame size above the limit', int32(0x7fffffff), /frame size out of range/],
  ['a negative frame size', int32(-5), /frame size out of range/],
  ['an unknown api key', frame(999, 0), /unsupported request/],
  ['an unsupported version', frame(0, 99), /unsupported request/],
  [
    'a header shorter than its fields',
    Buffer.concat([int32(3), Buffer.from([0, 3, 0])]),
    /request failed/,
  ],
  // Metadata v1 whose topic array claims 2^31-1 entries.
  ['a forged array count', frame(3, 1, int32(0x7fffffff)), /request failed/],
  // CreateTopics v0 with a topic name of length -7.
  [
    'a negative string length',
    frame(19, 0, Buffer.concat([int32(1), Buffer.from([0xff, 0xf9])])),
    /request failed/,
  ],
];

test('hostile frames close only their own connection while a real client keeps working', async () => {
  const kafka = new Kafka({ brokers: [broker.address], logLevel: logLevel.NOTHING });
  const producer = kafka.producer();
  await producer.connect();
  after(() => producer.disconnect());
  let sent = 0;
  let stop = false;
  const healthy = (async () => {
    while (!stop) {
      await producer.send({ topic: 'healthy', messages: [{ value: `m${sent}` }] });
      sent += 1;
    }
  })();

  for (const [what, bytes, reason] of hostile) {
    const before = warnings.length;
    const outcome = await sendRaw(bytes);
    assert.ok(outcome.closedByServer, `${what}: connection left open`);
    assert.equal(outcome.received.length, 0, `${what}: expected no response`);
    const logged = warnings.slice(before).map((w) => `${w.message} ${JSON.stringify(w.fields)}`);
    assert.ok(
      logged.some((line) => reason.test(line) && line.includes('127.0.0.1:')),
      `${what}: logged ${logged.join('; ')}`,
    );
  }
  const malformed = warnings.find(
    (w) => w.fields.code === 'EXTENTLOG_ERR_LOG_BROKER_MALFORMED_REQUEST' && w.fields.apiKey === 3,
  );
  assert.deepEqual(
    [
      malformed?.fields.apiKey,
      malformed?.fields.apiVersion,
      typeof malformed?.fields.positionBytes,
    ],
    [3, 1, 'number'],
  );

  // Random bytes and truncated requests: whatever the server does, it must not fall over.
  for (let i = 0; i < 200; i++) {
    const noise = randomBytes(1 + (i % 64));
    await sendRaw(i % 2 === 0 ? noise : frame(i % 40, i % 12, noise).subarray(0, 6 + (i % 10)), 20);
  }
  const progress = sent;
  await eventually('the healthy client to keep producing', () =>
    sent > progress + 5 ? true : undefined,
  );
  stop = true;
  await healthy;

  // ApiVersions at a version we do not speak: answered in the v0 format with error 35.
  const outcome = await sendRaw(frame(18, 3, Buffer.from([0])), 500);
  assert.equal(outcome.received.readInt32BE(4), 7);
  assert.equal(outcome.received.readInt16BE(8), 35);
  assert.ok(outcome.received.readInt32BE(10) >= 20);
});

test('pipelined requests are answered in order', async () => {
  const requests = Buffer.concat(
    Array.from({ length: 50 }, (_, i) => {
      const f = frame(
        i % 2 === 0 ? 18 : 3,
        i % 2 === 0 ? 2 : 1,
        i % 2 === 0 ? Buffer.alloc(0) : int32(-1),
      );
      f.writeInt32BE(1000 + i, 8);
      return f;
    }),
  );
  const outcome = await sendRaw(requests, 1000);
  const correlationIds: number[] = [];
  for (let at = 0; at + 8 <= outcome.received.length; at += 4 + outcome.received.readInt32BE(at)) {
    correlationIds.push(outcome.received.readInt32BE(at + 4));
  }
  assert.deepEqual(
    correlationIds,
    Array.from({ length: 50 }, (_, i) => 1000 + i),
  );
});
