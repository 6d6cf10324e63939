/**
 * Crash consistency of the broker store: a child process appends idempotent acks=all
 * batches and prints every acknowledgement; it is SIGKILLed at random moments (right after
 * opening, or after a random number of acks) and the parent reopens the store after each
 * kill and checks that every acknowledged batch is there exactly once, in order, byte for
 * byte, that no torn batch is served, and that a retry of the last acknowledged batch is
 * recognised as a duplicate.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { BrokerStore } from '../../log/broker/storage/index.js';
import {
  crashBatch,
  CRASH_PARTITIONS,
  CRASH_RECORDS_PER_BATCH,
  CRASH_TOPIC,
  parseAck,
  type Ack,
} from '../support/crash-workload.js';
import { parseBatches } from '../support/magic2-batch.js';
import { openTestStore } from '../support/open-test-store.js';
import { recordingLogger } from '../support/recording-logger.js';
import { tempDir, type TempDir } from '../support/temp-dir.js';

const TRIALS = 24;
const CHILD = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  'broker-store-crash.child.js',
);
const EXIT_DEADLINE_MS = 30_000;

/** A small deterministic generator, so a failing run can be replayed from its seed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1_664_525 + 1_013_904_223) >>> 0;
    return state / 0x1_0000_0000;
  };
}

interface TrialAck extends Ack {
  readonly trial: number;
}

/** Runs one child until it has printed `killAfterAcks` acks (0: until it is ready), then SIGKILLs it. */
async function runAndKill(
  dataDir: TempDir,
  trial: number,
  killAfterAcks: number,
): Promise<TrialAck[]> {
  const child = spawn(
    process.execPath,
    ['--enable-source-maps', CHILD, dataDir.path, String(trial)],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  dataDir.beforeRemoval(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const acks: TrialAck[] = [];
  let stderr = '';
  let pending = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      const ack = parseAck(line);
      if (ack !== null) acks.push({ ...ack, trial });
      if (
        (line === 'ready' && killAfterAcks === 0) ||
        (killAfterAcks > 0 && acks.length >= killAfterAcks)
      )
        child.kill('SIGKILL');
    }
  });
  const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(
    (resolve, reject) => {
      const deadline = setTimeout(() => {
        child.kill('SIGKILL');
        reject(
          new Error(
            `trial ${trial}: the child did not reach ${killAfterAcks} acks within ${EXIT_DEADLINE_MS} ms; stderr: ${stderr}`,
          ),
        );
      }, EXIT_DEADLINE_MS);
      child.on('close', (code, signal) => {
        clearTimeout(deadline);
        resolve({ code, signal });
      });
    },
  );
  assert.equal(
    exit.signal,
    'SIGKILL',
    `trial ${trial}: the child exited by itself (code ${exit.code}): ${stderr}`,
  );
  return acks;
}

/** Everything the store serves, checked batch by batch; returns (producerId:sequence) → offset. */
async function verifyPartition(
  store: BrokerStore,
  partition: number,
  acks: readonly TrialAck[],
  trialOfProducer: ReadonlyMap<number, number>,
): Promise<void> {
  const log = store.partition(CRASH_TOPIC, partition);
  assert.ok(log);
  const found = new Map<string, number>();
  assert.equal(log.logStartOffset(), 0);
  let offset = 0;
  while (offset < log.highWatermark()) {
    const { records } = await log.read(offset, 1 << 20);
    const batches = parseBatches(records);
    assert.ok(batches.length > 0, `a read at ${offset} below the high watermark returns a batch`);
    let at = 0;
    for (const batch of batches) {
      assert.ok(batch.crcValid, `batch at offset ${batch.baseOffset} is intact`);
      assert.equal(batch.baseOffset, offset, 'offsets are contiguous');
      const sequence = batch.baseSequence / CRASH_RECORDS_PER_BATCH;
      const key = `${batch.producerId}:${sequence}`;
      assert.ok(!found.has(key), `producer ${batch.producerId} sequence ${sequence} appears once`);
      found.set(key, batch.baseOffset);
      const trial = trialOfProducer.get(batch.producerId);
      if (trial !== undefined) {
        const expected = crashBatch(trial, partition, sequence, batch.producerId);
        assert.deepEqual(
          records.subarray(at + 8, at + batch.sizeBytes),
          expected.subarray(8),
          `batch at ${offset} is byte-identical`,
        );
      }
      at += batch.sizeBytes;
      offset = batch.lastOffset + 1;
    }
    assert.equal(at, records.length, 'reads return whole batches only');
  }
  for (const ack of acks.filter((candidate) => candidate.partition === partition))
    assert.equal(
      found.get(`${ack.producerId}:${ack.sequence}`),
      ack.baseOffset,
      `acknowledged batch (trial ${ack.trial}, producer ${ack.producerId}, sequence ${ack.sequence}) is at offset ${ack.baseOffset}`,
    );
}

test(
  'acknowledged appends survive kill -9 exactly once, in order, byte for byte',
  { timeout: 120_000 },
  async (t) => {
    const dataDir = await tempDir(t, 'crash');
    const seed = Number(process.env.CRASH_SEED ?? Date.now() % 1_000_000);
    t.diagnostic(`seed ${seed} (CRASH_SEED=${seed} replays the kill schedule)`);
    const next = random(seed);
    const acks: TrialAck[] = [];
    const trialOfProducer = new Map<number, number>();
    let truncations = 0;
    for (let trial = 0; trial < TRIALS; trial += 1) {
      const killAfterAcks = next() < 0.2 ? 0 : 1 + Math.floor(next() * 40);
      const trialAcks = await runAndKill(dataDir, trial, killAfterAcks);
      for (const ack of trialAcks) trialOfProducer.set(ack.producerId, trial);
      acks.push(...trialAcks);

      const logger = recordingLogger();
      const store = await openTestStore(dataDir, { logger });
      truncations += logger.entries.filter((entry) => entry.message.startsWith('truncated')).length;
      for (let partition = 0; partition < CRASH_PARTITIONS; partition += 1) {
        await verifyPartition(store, partition, acks, trialOfProducer);
        const last = trialAcks
          .filter((ack) => ack.partition === partition)
          .sort((a, b) => a.sequence - b.sequence)
          .at(-1);
        if (last === undefined) continue;
        const retry = await store
          .partition(CRASH_TOPIC, partition)!
          .append(crashBatch(trial, partition, last.sequence, last.producerId), { durable: true });
        assert.deepEqual(
          [retry.duplicate, retry.baseOffset],
          [true, last.baseOffset],
          `trial ${trial}: a retry of the last ack is a duplicate`,
        );
      }
      await store.close();
    }
    assert.ok(acks.length > TRIALS, `the children acknowledged ${acks.length} appends`);
    t.diagnostic(
      `${acks.length} acknowledged appends checked; recovery cut a torn tail ${truncations} times`,
    );
  },
);
