/**
 * Record codec throughput for 512 KiB WRITE extents, the size the feed runtime publishes,
 * next to the cheapest thing a codec can do with the same bytes: one `Buffer.concat` copy
 * (header + data). Encoding copies the data once, so it should come close to the copy;
 * decoding returns the data as a view, so it should beat it. Small records (heartbeats)
 * show the per-record cost.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { startSchemaRegistry } from '../../../log/registry/schema-registry.js';
import { createRecordCodec } from '../../../schemas/record-codec.js';
import { heartbeat, writeExtent } from '../../support/sample-records.js';
import { throughputRow, type BenchRow, type BenchSuite } from '../harness.js';

const RECORD_DATA_BYTES = 512 * 1024;
const ROUNDS = 5;

/** Calls `work` `calls` times per round; the best rate of the rounds, in calls per second. */
async function callsPerSecond(work: () => unknown, calls: number): Promise<number> {
  for (let call = 0; call < Math.min(calls, 50); call += 1) await work();
  let best = 0;
  for (let round = 0; round < ROUNDS; round += 1) {
    const started = process.hrtime.bigint();
    for (let call = 0; call < calls; call += 1) await work();
    best = Math.max(best, calls / (Number(process.hrtime.bigint() - started) / 1e9));
  }
  return best;
}

export const suite: BenchSuite = {
  name: 'codec',
  async run({ scale, log }): Promise<BenchRow[]> {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'extentlog-bench-codec-'));
    const registry = await startSchemaRegistry({ dataDir });
    try {
      const codec = createRecordCodec({
        registry: new SchemaRegistry({ host: registry.url }),
        subject: 'bench.codec.extents-value',
      });
      await codec.register();
      const data = Buffer.alloc(RECORD_DATA_BYTES);
      for (let index = 0; index < data.length; index += 1) data[index] = (index * 131) & 0xff;
      const record = writeExtent({ data });
      const frame = codec.encode(record);
      const header = frame.subarray(0, frame.length - data.length);
      const calls = Math.max(20, Math.round(400 * scale));
      const smallCalls = Math.max(1000, Math.round(50_000 * scale));
      log(
        `${calls} extents of ${RECORD_DATA_BYTES / 1024} KiB and ${smallCalls} heartbeats per round, best of ${ROUNDS}`,
      );

      const toMBps = (rate: number) => (rate * data.length) / 1e6;
      const peer = {
        name: 'Buffer.concat copy',
        MBps: toMBps(await callsPerSecond(() => Buffer.concat([header, data]), calls)),
      };
      const encodeMBps = toMBps(await callsPerSecond(() => codec.encode(record), calls));
      const decodeMBps = toMBps(await callsPerSecond(() => codec.decode(frame), calls));
      const heartbeatFrame = codec.encode(heartbeat);
      return [
        throughputRow('encode 512 KiB WRITE extent', encodeMBps, peer, { atLeast: 0.7 }),
        throughputRow('decode 512 KiB WRITE extent', decodeMBps, peer, { atLeast: 1 }),
        {
          name: 'encode heartbeat',
          value: await callsPerSecond(() => codec.encode(heartbeat), smallCalls),
          unit: 'records/s',
        },
        {
          name: 'decode heartbeat',
          value: await callsPerSecond(() => codec.decode(heartbeatFrame), smallCalls),
          unit: 'records/s',
        },
        {
          name: 'frame bytes beyond the data (512 KiB extent)',
          value: header.length,
          unit: 'bytes',
        },
      ];
    } finally {
      await registry.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  },
};
