/**
 * The log drivers' data path through the log port, once per driver (kafkajs, librdkafka):
 * publishing 512 KiB records (idempotent, acks=all, the default 64 MiB in-flight window)
 * to 4 partitions and to 1, then reading the 4 partitions back with a group consumer. The embedded broker runs
 * in its own process, so this process's CPU time (process.cpuUsage) is the driver's alone;
 * the broker's is reported beside it. Next to `dd bs=1M conv=fdatasync` of the same size,
 * since the broker makes every acknowledged produce durable.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { createLogClient, type LogDriver } from '../../../log/client-factory.js';
import { librdkafkaAvailability } from '../../../log/librdkafka/load-librdkafka.js';
import { startBrokerProcess } from '../../support/broker-process.js';
import { silentLogger } from '../../support/silent-logger.js';
import {
  ddWriteMBps,
  MiB,
  throughputRow,
  type BenchContext,
  type BenchRow,
  type BenchSuite,
} from '../harness.js';

const RECORD_BYTES = 512 * 1024;
const PARTITIONS = 4;
const MB = 1e6;
const GiB = 1024 * MiB;

interface Phase {
  readonly MBps: number;
  /** CPU seconds of this process per GiB moved. */
  readonly cpuPerGiB: number;
  /** CPU seconds of the broker process per GiB moved. */
  readonly brokerCpuPerGiB: number;
}

interface DriverRun {
  readonly produce: Phase;
  /** The same records to a single partition (one disk of one feed). */
  readonly produceOnePartition: Phase;
  readonly consume: Phase;
}

/** user + system CPU seconds of a process, from /proc (clock ticks of `getconf CLK_TCK`). */
async function processCpuSeconds(pid: number, ticksPerSecond: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 (utime) and 15 (stime) of proc(5), counted from the state field (3).
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
}

/**
 * Measures `operation`, which returns the bytes it moved. Wall time and this process's
 * CPU time count from the call, or from when the operation calls `mark` (the bytes it
 * returns are then those moved after the mark). The broker's CPU counts throughout.
 */
async function phase(
  brokerCpu: () => Promise<number>,
  operation: (mark: () => void) => Promise<number>,
): Promise<Phase> {
  const brokerBefore = await brokerCpu();
  let cpuBefore = process.cpuUsage();
  let started = process.hrtime.bigint();
  const counted = await operation(() => {
    cpuBefore = process.cpuUsage();
    started = process.hrtime.bigint();
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const cpu = process.cpuUsage(cpuBefore);
  const brokerSeconds = (await brokerCpu()) - brokerBefore;
  return {
    MBps: counted / MB / seconds,
    cpuPerGiB: ((cpu.user + cpu.system) / 1e6) * (GiB / counted),
    brokerCpuPerGiB: brokerSeconds * (GiB / counted),
  };
}

async function driverRun(
  driver: LogDriver,
  address: string,
  totalBytes: number,
  brokerCpu: () => Promise<number>,
  context: BenchContext,
): Promise<DriverRun> {
  const log = await createLogClient({
    connection: { brokers: [address], clientId: `bench-${driver}` },
    logger: silentLogger,
    driver,
  });
  try {
    const topic = `bench-${driver}`;
    const values = Array.from({ length: 8 }, () => randomBytes(RECORD_BYTES));
    const key = Buffer.from('disk-0');
    const records = Math.ceil(totalBytes / RECORD_BYTES);
    const bytes = records * RECORD_BYTES;
    const produceTo = async (name: string, partitions: number): Promise<Phase> => {
      await log.admin.ensureTopic({ topic: name, partitions, maxMessageBytes: 9 * MiB });
      const producer = await log.producer();
      try {
        return await phase(brokerCpu, async () => {
          for (let index = 0; index < records; index += 1)
            await producer.publish(name, index % partitions, [
              { key, value: values[index % values.length]! },
            ]);
          await producer.flush();
          return bytes;
        });
      } finally {
        await producer.close();
      }
    };

    const produce = await produceTo(topic, PARTITIONS);
    context.log(`${driver}: produced ${records} records at ${produce.MBps.toFixed(0)} MB/s`);
    const produceOnePartition = await produceTo(`${topic}-single`, 1);
    context.log(
      `${driver}: produced ${records} records to 1 partition at ${produceOnePartition.MBps.toFixed(0)} MB/s`,
    );

    const consumer = await log.consumer({ groupId: `bench-${driver}`, topics: [topic] });
    // Timed from the first batch on (the group join is not the driver's speed); the first
    // batch's bytes are not counted.
    const consume = await phase(brokerCpu, async (mark) => {
      let seen = 0;
      let counted = 0;
      let first = true;
      await new Promise<void>((resolve, reject) => {
        consumer
          .run({
            onBatch: async (batch) => {
              let batchBytes = 0;
              for (const message of batch.messages) batchBytes += message.value?.length ?? 0;
              seen += batch.messages.length;
              if (first) mark();
              else counted += batchBytes;
              first = false;
              if (seen >= records) resolve();
            },
          })
          .catch(reject);
      });
      return counted;
    });
    await consumer.stop();
    context.log(`${driver}: consumed ${records} records at ${consume.MBps.toFixed(0)} MB/s`);
    return { produce, produceOnePartition, consume };
  } finally {
    await log.close();
  }
}

function cpuRow(name: string, cpuPerGiB: number): BenchRow {
  return { name, value: cpuPerGiB, unit: 'CPU-s/GiB' };
}

export const suite: BenchSuite = {
  name: 'log-drivers',
  async run(context: BenchContext): Promise<BenchRow[]> {
    const totalBytes = Math.round(GiB * context.scale);
    const ddMBps = await ddWriteMBps(context, totalBytes);
    const cleanups: (() => Promise<void>)[] = [];
    const { stdout } = await promisify(execFile)('getconf', ['CLK_TCK']);
    const ticksPerSecond = Number(stdout.trim()) || 100;
    const drivers: LogDriver[] = ['kafkajs'];
    if (librdkafkaAvailability().available) drivers.push('librdkafka');
    else context.log('librdkafka is not installed (scripts/setup.sh --librdkafka): kafkajs only');
    const rows: BenchRow[] = [];
    const runs = new Map<LogDriver, DriverRun>();
    try {
      const broker = await startBrokerProcess({
        dataDir: path.join(context.workDir, 'broker'),
        port: 0,
        args: ['--log-level', 'warn'],
      });
      cleanups.push(() => broker.stop());
      const brokerCpu = () => processCpuSeconds(broker.pid, ticksPerSecond);
      const dd = { name: 'dd bs=1M conv=fdatasync', MBps: ddMBps };
      for (const driver of drivers) {
        const run = await driverRun(driver, broker.address, totalBytes, brokerCpu, context);
        runs.set(driver, run);
        rows.push(
          throughputRow(
            `${driver} produce 512 KiB acks=all, ${PARTITIONS} partitions`,
            run.produce.MBps,
            dd,
          ),
          cpuRow(`${driver} produce, client CPU`, run.produce.cpuPerGiB),
          cpuRow(`${driver} produce, broker CPU`, run.produce.brokerCpuPerGiB),
          throughputRow(`${driver} produce to 1 partition`, run.produceOnePartition.MBps, dd),
          cpuRow(`${driver} produce to 1 partition, client CPU`, run.produceOnePartition.cpuPerGiB),
          throughputRow(`${driver} group consume`, run.consume.MBps, dd),
          cpuRow(`${driver} group consume, client CPU`, run.consume.cpuPerGiB),
        );
      }
    } finally {
      for (const cleanup of cleanups) await cleanup();
    }
    const kafkajs = runs.get('kafkajs');
    const librdkafka = runs.get('librdkafka');
    if (kafkajs !== undefined && librdkafka !== undefined) {
      rows.push(
        throughputRow(
          'librdkafka produce vs kafkajs',
          librdkafka.produce.MBps,
          { name: 'kafkajs produce', MBps: kafkajs.produce.MBps },
          { atLeast: 1.5 },
        ),
        {
          name: 'client CPU per GiB produced, kafkajs ÷ librdkafka',
          value: kafkajs.produce.cpuPerGiB / librdkafka.produce.cpuPerGiB,
          unit: '×',
          target: '≥ 2',
          met: kafkajs.produce.cpuPerGiB / librdkafka.produce.cpuPerGiB >= 2,
        },
        throughputRow(
          'librdkafka group consume vs kafkajs',
          librdkafka.consume.MBps,
          { name: 'kafkajs consume', MBps: kafkajs.consume.MBps },
          { atLeast: 1 },
        ),
      );
    }
    return rows;
  },
};
