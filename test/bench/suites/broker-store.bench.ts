/**
 * Broker store write path: acks=all appends of 512 KiB batches to 4 partitions at once
 * (three in flight per partition, as a pipelining producer keeps them), against the disk's
 * own sequential write speed measured by `dd … conv=fdatasync` in the same run; then a
 * fetch-like sequential read of what was written.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { openBrokerStore } from '../../../log/broker/storage/index.js';
import { buildBatch } from '../../support/magic2-batch.js';
import {
  ddWriteMBps,
  MiB,
  throughputRow,
  type BenchContext,
  type BenchRow,
  type BenchSuite,
} from '../harness.js';

const PARTITIONS = 4;
const IN_FLIGHT_PER_PARTITION = 3;
const BATCH_VALUE_BYTES = 512 * 1024;
const MB = 1e6;

async function storeRun(
  context: BenchContext,
  totalBytes: number,
): Promise<{ appendMBps: number; readMBps: number }> {
  const store = await openBrokerStore({ dataDir: path.join(context.workDir, 'store') });
  try {
    await store.createTopic('bench', PARTITIONS, {});
    // Distinct batches (a fresh CRC to check on every append); the store rewrites only baseOffset.
    const batches = Array.from({ length: 8 }, () =>
      buildBatch({
        records: [{ key: Buffer.from('disk-0'), value: randomBytes(BATCH_VALUE_BYTES) }],
      }),
    );
    const batchesPerPartition = Math.ceil(totalBytes / PARTITIONS / BATCH_VALUE_BYTES);
    let written = 0;
    const started = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: PARTITIONS }, async (_, partition) => {
        const log = store.partition('bench', partition)!;
        let next = 0;
        const lane = async () => {
          while (next < batchesPerPartition) {
            const batch = Buffer.from(batches[next % batches.length]!);
            next += 1;
            await log.append(batch, { durable: true });
            written += batch.length;
          }
        };
        await Promise.all(Array.from({ length: IN_FLIGHT_PER_PARTITION }, lane));
      }),
    );
    const appendSeconds = Number(process.hrtime.bigint() - started) / 1e9;

    let read = 0;
    const readStarted = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: PARTITIONS }, async (_, partition) => {
        const log = store.partition('bench', partition)!;
        let offset = 0;
        while (offset < log.highWatermark()) {
          const { records } = await log.read(offset, 4 * MiB);
          read += records.length;
          // One record per batch: the next offset is one past the last whole batch's.
          for (let at = 0; at + 12 <= records.length; at += 12 + records.readInt32BE(at + 8))
            offset = Number(records.readBigInt64BE(at)) + 1;
        }
      }),
    );
    const readSeconds = Number(process.hrtime.bigint() - readStarted) / 1e9;
    context.log(
      `appended ${written} bytes in ${appendSeconds.toFixed(2)} s, read ${read} bytes in ${readSeconds.toFixed(2)} s`,
    );
    return { appendMBps: written / MB / appendSeconds, readMBps: read / MB / readSeconds };
  } finally {
    await store.close();
  }
}

export const suite: BenchSuite = {
  name: 'broker-store',
  async run(context: BenchContext): Promise<BenchRow[]> {
    const totalBytes = Math.round(2048 * MiB * context.scale);
    const ddMBps = await ddWriteMBps(context, totalBytes);
    const { appendMBps, readMBps } = await storeRun(context, totalBytes);
    return [
      throughputRow(
        'store append 512 KiB acks=all, 4 partitions',
        appendMBps,
        { name: 'dd bs=1M conv=fdatasync', MBps: ddMBps },
        { atLeast: 0.5 },
      ),
      throughputRow(
        'store sequential read (fetch 4 MiB)',
        readMBps,
        { name: 'store append', MBps: appendMBps },
        { atLeast: 1 },
      ),
    ];
  },
};
