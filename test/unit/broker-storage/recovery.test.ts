import assert from 'node:assert/strict';
import {
  appendFile,
  cp,
  readdir,
  readFile,
  stat,
  truncate,
  unlink,
  writeFile,
} from 'node:fs/promises';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import type { BrokerStore, PartitionLog } from '../../../log/broker/storage/index.js';
import { OffsetIndex } from '../../../log/broker/storage/offset-index.js';
import { filledBatch, parseBatches } from '../../support/magic2-batch.js';
import { openTestStore } from '../../support/open-test-store.js';
import { recordingLogger } from '../../support/recording-logger.js';
import { tempDir, type TempDir } from '../../support/temp-dir.js';

const partitionDir = (dataDir: TempDir) => path.join(dataDir.path, 'topics', 't', '0');

async function segmentFiles(dataDir: TempDir, suffix: string): Promise<string[]> {
  return (await readdir(partitionDir(dataDir)))
    .filter((name) => name.endsWith(suffix))
    .sort()
    .map((name) => path.join(partitionDir(dataDir), name));
}

/** A store with `count` acknowledged batches (3 records each) in 1 KiB-ish segments. */
async function populated(
  t: TestContext,
  count: number,
): Promise<{ dataDir: TempDir; store: BrokerStore; sent: Buffer[] }> {
  const dataDir = await tempDir(t, 'recovery');
  const store = await openTestStore(dataDir);
  await store.createTopic('t', 1, { segmentBytes: 1500 });
  const log = store.partition('t', 0)!;
  const sent: Buffer[] = [];
  for (let index = 0; index < count; index += 1) {
    const batch = filledBatch(index, 3, 60 + index);
    await log.append(batch, { durable: true });
    sent.push(Buffer.from(batch));
  }
  return { dataDir, store, sent };
}

/** The data directory as a crash would leave it: copied while the store is still open. */
async function crashImage(t: TestContext, dataDir: TempDir): Promise<TempDir> {
  const image = await tempDir(t, 'crash-image');
  // Temporary files come and go while the store writes its indexes in the background;
  // one that vanishes between listing and copying would fail the copy, and recovery
  // discards them anyway.
  await cp(dataDir.path, image.path, {
    recursive: true,
    filter: (source) => !source.endsWith('.tmp'),
  });
  return image;
}

async function readAll(log: PartitionLog): Promise<Buffer[]> {
  const batches: Buffer[] = [];
  let offset = log.logStartOffset();
  while (offset < log.highWatermark()) {
    const { records } = await log.read(offset, 1 << 20);
    let at = 0;
    for (const batch of parseBatches(records)) {
      assert.ok(batch.crcValid, `batch at ${batch.baseOffset} has a valid CRC`);
      batches.push(records.subarray(at, at + batch.sizeBytes));
      at += batch.sizeBytes;
      offset = batch.lastOffset + 1;
    }
    assert.equal(at, records.length, 'a read returns whole batches only');
  }
  return batches;
}

async function reopenExpecting(
  t: TestContext,
  image: TempDir,
  sent: Buffer[],
  keep: number,
): Promise<BrokerStore> {
  const logger = recordingLogger();
  const store = await openTestStore(image, { logger });
  const log = store.partition('t', 0)!;
  assert.equal(log.highWatermark(), keep * 3);
  assert.deepEqual(await readAll(log), sent.slice(0, keep));
  const next = await log.append(filledBatch(1000, 1, 5), { durable: true });
  assert.equal(next.baseOffset, keep * 3, 'appends continue right after the recovered end');
  t.diagnostic(logger.entries.map((entry) => entry.message).join('; '));
  return store;
}

for (const [name, damage] of [
  ['a batch cut short', async (file: string) => truncate(file, (await stat(file)).size - 25)],
  [
    'a header cut short',
    async (file: string, last: Buffer) =>
      truncate(file, (await stat(file)).size - last.length + 30),
  ],
  ['trailing zeros', (file: string) => appendFile(file, Buffer.alloc(4096))],
  [
    'trailing garbage',
    (file: string) =>
      appendFile(file, Buffer.from('not a record batch, just some bytes that landed here')),
  ],
  [
    'a bit flip in the last batch',
    async (file: string) => {
      const bytes = await readFile(file);
      bytes.writeUInt8(bytes.readUInt8(bytes.length - 7) ^ 0x10, bytes.length - 7);
      await writeFile(file, bytes);
    },
  ],
] as const)
  test(`recovery after a crash drops ${name} and nothing before it`, async (t) => {
    const { dataDir, sent } = await populated(t, 12);
    const image = await crashImage(t, dataDir);
    const logs = await segmentFiles(image, '.log');
    assert.ok(logs.length >= 3, 'the log spans several segments');
    const damagedWhole =
      name === 'a batch cut short' ||
      name === 'a header cut short' ||
      name === 'a bit flip in the last batch';
    await damage(logs.at(-1)!, sent.at(-1)!);
    await reopenExpecting(t, image, sent, damagedWhole ? sent.length - 1 : sent.length);
  });

test('a damaged closed segment cuts the log there and later segments go', async (t) => {
  const { dataDir, sent } = await populated(t, 12);
  const image = await crashImage(t, dataDir);
  const [first, second] = await segmentFiles(image, '.log');
  const [, secondIndex] = await segmentFiles(image, '.index');
  await unlink(secondIndex!);
  const batchesInFirst = parseBatches(await readFile(first!)).length;
  await truncate(second!, 40);
  await reopenExpecting(t, image, sent, batchesInFirst);
  assert.equal((await segmentFiles(image, '.log')).length, 2);
});

test('a corrupt or stale index is rebuilt, even after a clean shutdown', async (t) => {
  const { dataDir, store, sent } = await populated(t, 12);
  await store.close();
  const indexes = await segmentFiles(dataDir, '.index');
  const damaged = await readFile(indexes[0]!);
  damaged.writeUInt8(damaged.readUInt8(damaged.length - 1) ^ 0xff, damaged.length - 1);
  await writeFile(indexes[0]!, damaged);
  await writeFile(indexes[1]!, Buffer.alloc(0));
  await reopenExpecting(t, dataDir, sent, sent.length);
  const rebuilt = OffsetIndex.parse(await readFile(indexes[0]!), 0, 4096);
  assert.ok(rebuilt, 'the rebuilt index is written back');
});

test('a missing or empty closed segment is reported and the rest still serves', async (t) => {
  const { dataDir, sent } = await populated(t, 12);
  const image = await crashImage(t, dataDir);
  const logs = await segmentFiles(image, '.log');
  const emptied = logs[1]!;
  const batchesInFirst = parseBatches(await readFile(logs[0]!)).length;
  const batchesInSecond = parseBatches(await readFile(emptied)).length;
  await writeFile(emptied, Buffer.alloc(0));
  const logger = recordingLogger();
  const store = await openTestStore(image, { logger });
  const log = store.partition('t', 0)!;
  const served = await readAll(log);
  assert.deepEqual(served, [
    ...sent.slice(0, batchesInFirst),
    ...sent.slice(batchesInFirst + batchesInSecond),
  ]);
  assert.ok(logger.entries.some((entry) => /empty closed segment/.test(entry.message)));
  assert.ok(
    logger.entries.some((entry) => /offsets between two segments are absent/.test(entry.message)),
  );
});

test('the clean-shutdown marker is honoured once', async (t) => {
  const { dataDir, store } = await populated(t, 3);
  await store.close();
  const logger = recordingLogger();
  await openTestStore(dataDir, { logger });
  const opened = logger.entries.find((entry) => entry.message === 'broker store open');
  assert.equal(opened?.fields.cleanShutdown, true);
  const image = await crashImage(t, dataDir);
  const crashLogger = recordingLogger();
  await openTestStore(image, { logger: crashLogger });
  assert.equal(
    crashLogger.entries.find((entry) => entry.message === 'broker store open')?.fields
      .cleanShutdown,
    false,
  );
});
