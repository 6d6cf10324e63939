/**
 * A lean Kafka load client for the broker benchmark, run as a child process so that
 * several of them load the broker from separate cores' worth of CPU:
 *
 *   broker-load-client produce HOST PORT TOPIC PARTITION TOTAL_BYTES RECORD_BYTES IN_FLIGHT
 *   broker-load-client consume HOST PORT TOPIC PARTITION
 *   broker-load-client kafkajs-produce HOST PORT TOPIC PARTITION TOTAL_BYTES RECORD_BYTES IN_FLIGHT
 *
 * produce: one pre-built magic-2 batch (one record of RECORD_BYTES) sent repeatedly as
 * Produce v7 with acks=-1, IN_FLIGHT requests pipelined. consume: Fetch v11 from offset 0
 * to the high watermark. kafkajs-produce: the same load through a kafkajs producer. Prints {"bytes", "startMs", "endMs"} as JSON.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import process from 'node:process';
import { Kafka, logLevel } from 'kafkajs';
import { Reader } from '../../log/broker/protocol/reader.js';
import { Writer } from '../../log/broker/protocol/writer.js';
import { buildBatch } from '../support/magic2-batch.js';

type Pending = (body: Reader) => void;

function connect(host: string, port: number) {
  const socket = net.connect(port, host);
  socket.setNoDelay(true);
  const waiting: Pending[] = [];
  const chunks: Buffer[] = [];
  let buffered = 0;
  let frameBytes = -1;
  socket.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    buffered += chunk.length;
    for (;;) {
      if (frameBytes < 0) {
        if (buffered < 4) return;
        const head = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
        chunks.length = 0;
        chunks.push(head);
        frameBytes = 4 + head.readInt32BE(0);
      }
      if (buffered < frameBytes) return;
      const all = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, buffered);
      const rest = all.subarray(frameBytes);
      chunks.length = 0;
      if (rest.length > 0) chunks.push(rest);
      buffered = rest.length;
      const end = frameBytes;
      frameBytes = -1;
      waiting.shift()?.(new Reader(all, 8, end));
    }
  });
  let correlationId = 0;
  return {
    ready: new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    }),
    request(apiKey: number, version: number, body: (w: Writer) => void): Promise<Reader> {
      const writer = new Writer().int32(0).int16(apiKey).int16(version).int32(++correlationId);
      writer.string('bench');
      body(writer);
      const frame = writer.buffers();
      (frame[0] as Buffer).writeInt32BE(writer.lengthBytes - 4, 0);
      const response = new Promise<Reader>((resolve) => waiting.push(resolve));
      socket.cork();
      for (const buffer of frame) socket.write(buffer);
      socket.uncork();
      return response;
    },
    close: () => socket.destroy(),
  };
}

/** Runs `sendOne` `count` times with up to `inFlight` calls outstanding; returns the span. */
async function pipelined(count: number, inFlight: number, sendOne: () => Promise<void>) {
  const startMs = Date.now();
  let started = 0;
  const worker = async () => {
    while (started < count) {
      started += 1;
      await sendOne();
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return { startMs, endMs: Date.now() };
}

async function produce(args: string[]) {
  const [host, port, topic, partition, totalBytes, recordBytes, inFlight] = args;
  const client = connect(host as string, Number(port));
  await client.ready;
  const batch = buildBatch({ records: [{ key: null, value: randomBytes(Number(recordBytes)) }] });
  const count = Math.ceil(Number(totalBytes) / Number(recordBytes));
  const span = await pipelined(count, Number(inFlight), async () => {
    const body = await client.request(0, 7, (w) => {
      w.nullableString(null).int16(-1).int32(30_000);
      w.int32(1)
        .string(topic as string)
        .int32(1)
        .int32(Number(partition))
        .bytes(batch);
    });
    body.array((t) => {
      t.string();
      t.array((p) => {
        p.int32();
        const code = p.int16();
        if (code !== 0) throw new Error(`produce failed with Kafka error ${code}`);
        p.int64();
        p.int64();
        p.int64();
      });
    });
  });
  client.close();
  return { bytes: count * Number(recordBytes), ...span };
}

async function consume(args: string[]) {
  const [host, port, topic, partition] = args;
  const client = connect(host as string, Number(port));
  await client.ready;
  const startMs = Date.now();
  let offset = 0;
  let bytes = 0;
  for (;;) {
    const body = await client.request(1, 11, (w) => {
      w.int32(-1)
        .int32(100)
        .int32(1)
        .int32(64 * 1024 * 1024)
        .int8(0)
        .int32(0)
        .int32(-1);
      w.int32(1)
        .string(topic as string)
        .int32(1);
      w.int32(Number(partition))
        .int32(-1)
        .int64(offset)
        .int64(-1)
        .int32(16 * 1024 * 1024);
      w.int32(0).string('');
    });
    body.int32();
    body.int16();
    body.int32();
    body.int32();
    body.string();
    body.int32();
    body.int32();
    const code = body.int16();
    if (code !== 0) throw new Error(`fetch failed with Kafka error ${code}`);
    const highWatermark = body.int64();
    body.int64();
    body.int64();
    body.nullableArray((a) => [a.int64(), a.int64()]);
    body.int32();
    const records = body.nullableBytes() ?? Buffer.alloc(0);
    // Advance past the last whole batch: baseOffset + lastOffsetDelta + 1.
    for (let at = 0; at + 61 <= records.length;) {
      const batchBytes = 12 + records.readInt32BE(at + 8);
      if (at + batchBytes > records.length) break;
      offset = Number(records.readBigInt64BE(at)) + records.readInt32BE(at + 23) + 1;
      bytes += batchBytes;
      at += batchBytes;
    }
    if (offset >= highWatermark) break;
  }
  client.close();
  return { bytes, startMs, endMs: Date.now() };
}

async function kafkajsProduce(args: string[]) {
  const [host, port, topic, partition, totalBytes, recordBytes, inFlight] = args;
  const kafka = new Kafka({ brokers: [`${host}:${port}`], logLevel: logLevel.NOTHING });
  const producer = kafka.producer({ maxInFlightRequests: Number(inFlight) });
  await producer.connect();
  const value = randomBytes(Number(recordBytes));
  const count = Math.ceil(Number(totalBytes) / Number(recordBytes));
  const span = await pipelined(count, Number(inFlight), async () => {
    await producer.send({
      topic: topic as string,
      acks: -1,
      messages: [{ partition: Number(partition), value }],
    });
  });
  await producer.disconnect();
  return { bytes: count * Number(recordBytes), ...span };
}

const [mode, ...rest] = process.argv.slice(2);
const modes: Record<string, (args: string[]) => Promise<unknown>> = {
  produce,
  consume,
  'kafkajs-produce': kafkajsProduce,
};
const run = modes[mode ?? ''];
if (run === undefined)
  throw new Error(`unknown mode ${mode}: expected ${Object.keys(modes).join(', ')}`);
const result = await run(rest);
process.stdout.write(`${JSON.stringify(result)}\n`);
