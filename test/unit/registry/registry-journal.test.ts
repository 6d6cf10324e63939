import assert from 'node:assert/strict';
import { appendFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { RegistryError } from '../../../log/registry/errors.js';
import { openRegistryJournal } from '../../../log/registry/registry-journal.js';

const root = await mkdtemp(path.join(os.tmpdir(), 'extentlog-registry-journal-'));
after(() => rm(root, { recursive: true, force: true }));

let counter = 0;
function freshPath(): string {
  counter += 1;
  return path.join(root, `case-${counter}`, 'schema-registry.journal');
}

interface Entry {
  readonly n: number;
  readonly text: string;
}

async function writeEntries(file: string, count: number): Promise<number[]> {
  const opened = await openRegistryJournal<Entry>(file);
  const sizes: number[] = [];
  for (let n = 0; n < count; n += 1) {
    await opened.journal.append({ n, text: `entry ${n}` });
    sizes.push((await stat(file)).size);
  }
  await opened.journal.close();
  return sizes;
}

async function reopen(file: string) {
  const opened = await openRegistryJournal<Entry>(file);
  await opened.journal.close();
  return opened;
}

function flipByte(content: Buffer, position: number): void {
  content.writeUInt8(content.readUInt8(position) ^ 0xff, position);
}

function isCorrupt(pattern: RegExp) {
  return (error: unknown) =>
    error instanceof RegistryError &&
    error.code === 'EXTENTLOG_ERR_REGISTRY_CORRUPT_JOURNAL' &&
    pattern.test(error.message);
}

test('entries come back in order after reopening', async () => {
  const file = freshPath();
  await writeEntries(file, 3);
  const opened = await reopen(file);
  assert.deepEqual(
    opened.entries.map((entry) => entry.n),
    [0, 1, 2],
  );
  assert.equal(opened.report.droppedTailBytes, 0);
});

test('a torn last entry is cut off and appending continues after it', async () => {
  const file = freshPath();
  const sizes = await writeEntries(file, 4);
  const whole = await readFile(file);
  // a crash wrote only part of entry 3
  const lastStart = sizes[2] as number;
  await writeFile(file, whole.subarray(0, lastStart + 11));
  const opened = await openRegistryJournal<Entry>(file);
  assert.deepEqual(
    opened.entries.map((entry) => entry.n),
    [0, 1, 2],
  );
  assert.equal(opened.report.droppedTailBytes, 11);
  assert.equal((await stat(file)).size, lastStart);
  await opened.journal.append({ n: 9, text: 'after the crash' });
  await opened.journal.close();
  assert.deepEqual(
    (await reopen(file)).entries.map((entry) => entry.n),
    [0, 1, 2, 9],
  );
});

test('a zero-filled tail and a garbled last entry are cut off too', async () => {
  const zeroed = freshPath();
  const sizes = await writeEntries(zeroed, 2);
  await appendFile(zeroed, Buffer.alloc(4096));
  const afterZeros = await reopen(zeroed);
  assert.equal(afterZeros.entries.length, 2);
  assert.equal(afterZeros.report.droppedTailBytes, 4096);

  const garbled = freshPath();
  const garbledSizes = await writeEntries(garbled, 2);
  const content = await readFile(garbled);
  flipByte(content, (garbledSizes[1] as number) - 2);
  await writeFile(garbled, content);
  const afterGarble = await reopen(garbled);
  assert.deepEqual(
    afterGarble.entries.map((entry) => entry.n),
    [0],
  );
  assert.equal(afterGarble.report.droppedTailBytes, (sizes[1] as number) - (sizes[0] as number));
});

test('damage before the last entry is refused with its position', async () => {
  const file = freshPath();
  const sizes = await writeEntries(file, 3);
  const content = await readFile(file);
  flipByte(content, (sizes[0] as number) + 10); // inside entry 1, entry 2 follows
  await writeFile(file, content);
  await assert.rejects(
    openRegistryJournal<Entry>(file),
    isCorrupt(new RegExp(`at byte ${sizes[0]}: the entry checksum does not match`)),
  );
});

test('a file that is not a journal is refused; a torn creation starts over', async () => {
  const foreign = freshPath();
  await writeEntries(foreign, 0);
  await writeFile(foreign, 'not a journal at all');
  await assert.rejects(
    openRegistryJournal<Entry>(foreign),
    isCorrupt(/expected the magic EXSRJNL1/),
  );

  const torn = freshPath();
  await writeEntries(torn, 0);
  await writeFile(torn, 'EXSR');
  assert.deepEqual((await reopen(torn)).entries, []);
  assert.equal((await readFile(torn)).toString('latin1'), 'EXSRJNL1');
});

test('an unusable data directory is reported as such', async () => {
  const blocker = path.join(root, 'a-file');
  await writeFile(blocker, 'x');
  await assert.rejects(
    openRegistryJournal<Entry>(path.join(blocker, 'sub', 'schema-registry.journal')),
    (error: unknown) =>
      error instanceof RegistryError &&
      error.code === 'EXTENTLOG_ERR_REGISTRY_DATA_DIR' &&
      /cannot open it for appending/.test(error.message),
  );
});
