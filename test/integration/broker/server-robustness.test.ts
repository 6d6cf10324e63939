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
import { buildBatch } from '../../support/magic2-batch.js';
import { startTestBroker } from '../../support/test-broker.js';
import { eventually } from '../../support/eventually.js';

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
/**
 * Sends bytes on a fresh connection. Resolves when the server closes it, or once
 * `until.responses` whole response frames arrived, or (with `until.halfClose`) after our
 * end of the stream is closed and the server follows.
 */
function sendRaw(
  bytes: Buffer,
  until: { responses?: number; halfClose?: boolean } = {},
): Promise<{ closedByServer: boolean; received: Buffer }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(broker.port, broker.host);
    const received: Buffer[] = [];
    let closedByUs = false;
    const frames = () => {
      const all = Buffer.concat(received);
      let count = 0;
      for (let at = 0; at + 4 <= all.length && at + 4 + all.readInt32BE(at) <= all.length;) {
        count += 1;
        at += 4 + all.readInt32BE(at);
      }
      return count;
    };
    socket.on('data', (chunk: Buffer) => {
      received.push(chunk);
      if (until.responses !== undefined && frames() >= until.responses) {
        closedByUs = true;
        socket.destroy();
      }
    });
    socket.on('error', () => {});
    socket.on('close', () =>
      resolve({ closedByServer: !closedByUs, received: Buffer.concat(received) }),
    );
    socket.on('connect', () => {
      if (until.halfClose === true) {
        closedByUs = true;
        socket.end(bytes);
      } else {
        socket.write(bytes);
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
    await sendRaw(i % 2 === 0 ? noise : frame(i % 40, i % 12, noise).subarray(0, 6 + (i % 10)), {
      halfClose: true,
    });
  }
  const progress = sent;
  await eventually('the healthy client to keep producing', () =>
    sent > progress + 5 ? true : undefined,
  );
  stop = true;
  await healthy;

  // ApiVersions at a version we do not speak: answered in the v0 format with error 35.
  const outcome = await sendRaw(frame(18, 3, Buffer.from([0])), { responses: 1 });
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
  const outcome = await sendRaw(requests, { responses: 50 });
  const correlationIds: number[] = [];
  for (let at = 0; at + 8 <= outcome.received.length; at += 4 + outcome.received.readInt32BE(at)) {
    correlationIds.push(outcome.received.readInt32BE(at + 4));
  }
  assert.deepEqual(
    correlationIds,
    Array.from({ length: 50 }, (_, i) => 1000 + i),
  );
});

test('a client that stops reading makes the server stop reading its requests', async (t) => {
  const limited = await startTestBroker(t.after.bind(t), {
    limits: { writeHighWaterBytes: 1024 * 1024, maxPendingResponses: 16 },
  });
  await limited.store.createTopic('bulk', 1, { maxMessageBytes: 4 * 1024 * 1024 });
  const log = limited.store.partition('bulk', 0);
  await log?.append(buildBatch({ records: [{ key: null, value: randomBytes(2 * 1024 * 1024) }] }), {
    durable: true,
  });
  // Fetch v4 for the whole 2 MiB batch, pipelined 100 times by a client that never reads.
  const fetchBody = Buffer.concat([
    int32(-1), int32(0), int32(0), int32(8 * 1024 * 1024), Buffer.from([0]),
    int32(1), Buffer.from([0, 4]), Buffer.from('bulk'), int32(1),
    int32(0), Buffer.alloc(8), int32(4 * 1024 * 1024),
  ]); // prettier-ignore
  const socket = net.connect(limited.port, limited.host);
  t.after(() => socket.destroy());
  socket.pause();
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.write(Buffer.concat(Array.from({ length: 100 }, () => frame(1, 4, fetchBody))));
  await eventually('the server to pause the connection', () =>
    limited.metrics().connectionsPaused === 1 ? true : undefined,
  );
  const handled = limited.metrics().requestsByApi.Fetch ?? 0;
  assert.ok(handled < 100, `${handled} fetches handled although their responses were not read`);

  let received = 0;
  let buffered = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    while (buffered.length >= 4 && buffered.length >= 4 + buffered.readInt32BE(0)) {
      received += 1;
      buffered = buffered.subarray(4 + buffered.readInt32BE(0));
    }
  });
  socket.resume();
  await eventually('all 100 responses', () => (received === 100 ? true : undefined), 60_000);
  assert.equal(limited.metrics().connectionsPaused, 0);
});

test('acks=0 produce gets no response; the next request is answered in its place', async () => {
  await broker.store.createTopic('fire-and-forget', 1, {});
  const batch = buildBatch({ records: [{ key: null, value: Buffer.from('unacknowledged') }] });
  const produceBody = Buffer.concat([
    Buffer.from([0xff, 0xff]), Buffer.from([0, 0]), int32(1000),
    int32(1), Buffer.from([0, 15]), Buffer.from('fire-and-forget'), int32(1),
    int32(0), int32(batch.length), batch,
  ]); // prettier-ignore
  const produce = frame(0, 3, produceBody);
  produce.writeInt32BE(1, 8);
  const apiVersions = frame(18, 0);
  apiVersions.writeInt32BE(2, 8);
  const outcome = await sendRaw(Buffer.concat([produce, apiVersions]), { responses: 1 });
  assert.equal(outcome.received.readInt32BE(4), 2, 'first response is the ApiVersions one');
  assert.equal(outcome.received.length, 4 + outcome.received.readInt32BE(0));
  await eventually('the record to be appended', () =>
    broker.store.partition('fire-and-forget', 0)?.highWatermark() === 1 ? true : undefined,
  );
});
