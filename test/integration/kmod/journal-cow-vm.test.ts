/**
 * The extentlog kernel module, loaded for real: Debian's kernel under qemu (TCG) with a
 * busybox initramfs runs kmod/vm/journal-cow.sh — a multi-threaded writer on the
 * protected disk, a COW snapshot read out while the writer keeps going, then a write storm
 * into a 64-record ring. On the host, the journal must hold every operation in order and
 * in time, the snapshot image must equal the disk at the snapshot's marker (replayed from
 * the journal), the COW store must hold the chunks' old content in its documented format,
 * and the journal replayed to its end must give the disk's final content (sha256). The
 * second test loads the module with fault injection and shows that these checks fail.
 */
import assert from 'node:assert/strict';
import { readFile, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import {
  decodeJournalRecords,
  type JournalRecord,
} from '../../../native/kjournal/journal-record.js';
import { readCowStore, type CowStore } from '../../support/cow-store.js';
import {
  decodeWriterLog,
  differingSectors,
  initialImage,
  matchJournal,
  replayJournal,
  SECTOR_BYTES,
  sha256,
  type JournalMatch,
} from '../../support/journal-workload.js';
import {
  buildVmImage,
  checkoutDir,
  keepConsoleOnFailure,
  keyValues,
  runVm,
  type VmRun,
} from '../../support/kernel-vm.js';
import { tempDir } from '../../support/temp-dir.js';

const MiB = 1024 * 1024;
const DISK_BYTES = 64 * MiB;
const THREADS = 3;
const CHUNK_BYTES = 64 * 1024;
const STORM_THREADS = 2;
const STORM_OPS = 300;

interface Outcome {
  readonly vm: VmRun;
  readonly journal: JournalMatch;
  readonly snapshot: {
    readonly markerPos: bigint;
    readonly copiedChunks: number;
    readonly recordsDuringSnapshot: number;
    readonly differing: number[];
  };
  readonly cow: { readonly store: CowStore; readonly differingChunks: number[] };
  readonly final: {
    readonly device: string;
    readonly replayed: string;
    readonly differing: number[];
  };
  readonly overflow: {
    readonly records: JournalRecord[];
    readonly info: Map<string, string>;
    readonly infoAfter: Map<string, string>;
  };
}

async function runScenario(t: TestContext, name: string, moduleParams: string): Promise<Outcome> {
  const dir = await tempDir(t, `kmod-${name}`);
  const image = await buildVmImage();
  const initial = initialImage(DISK_BYTES);
  const [vda, vdb, vdc] = ['vda.img', 'vdb.img', 'vdc.img'].map((file) =>
    path.join(dir.path, file),
  ) as [string, string, string];
  await writeFile(vda, initial);
  await writeFile(vdb, '');
  await truncate(vdb, 80 * MiB);
  await writeFile(vdc, '');
  await truncate(vdc, 8 * MiB);
  const resultsDir = path.join(dir.path, 'results');
  const vm = await runVm({
    image,
    name,
    scenario: path.join(checkoutDir, 'kmod', 'vm', 'journal-cow.sh'),
    env: {
      EXL_PARAMS: moduleParams,
      WRITER_ARGS:
        `threads=${THREADS} ops=300 seed=7 pace_us=4000 zero_every=13 discard_every=11 ` +
        'flush_every=17 dsync_every=5',
      SNAP_AFTER: '150',
      CHUNK_BYTES: String(CHUNK_BYTES),
      STORM_ARGS: `threads=${STORM_THREADS} ops=${STORM_OPS} seed=9 max_bytes=16384`,
    },
    disks: [vda, vdb, vdc],
    resultsDir,
    timeoutMs: 240_000,
    cleanup: (fn) => t.after(fn),
  });
  return keepConsoleOnFailure(vm, async () => {
    assert.deepEqual(vm.kernelProblems, [], 'the guest kernel complained');
    assert.equal(vm.scenarioExit, 0, `the scenario failed:\n${vm.scenarioLog}`);
    const result = (file: string) => readFile(path.join(resultsDir, file));
    const records = decodeJournalRecords(await result('journal.bin'));
    const ops = decodeWriterLog(await result('writer.bin'));
    const journal = matchJournal(ops, records, {
      threads: THREADS,
      regionBytes: Math.floor(DISK_BYTES / THREADS / 4096) * 4096,
      baseBytes: 0,
    });

    const snap = keyValues((await result('snap.out')).toString());
    const markerPos = BigInt(snap.get('marker_pos') ?? '-1');
    const atMarker = replayJournal(initial, records, journal.opOfRecord, markerPos);
    const stop = records.find((record) => record.type === 'SNAP_STOP');
    const store = readCowStore(await readFile(vdb));
    const knownChunk = (start: number) =>
      Array.from({ length: store.chunkBytes / SECTOR_BYTES }, (_, index) => index).every(
        (sector) => !atMarker.unknownSectors.has(start / SECTOR_BYTES + sector),
      );
    const differingChunks = store.chunks.filter((chunk, slot) => {
      const start = chunk * store.chunkBytes;
      const expected = atMarker.image.subarray(start, start + store.chunkBytes);
      return knownChunk(start) && !store.slot(slot).equals(expected);
    });

    const atEnd = replayJournal(initial, records, journal.opOfRecord);
    const device = await readFile(vda);
    return {
      vm,
      journal,
      snapshot: {
        markerPos,
        copiedChunks: Number(snap.get('copied_chunks') ?? 0),
        recordsDuringSnapshot: records.filter(
          (record) => record.pos > markerPos && stop !== undefined && record.pos < stop.pos,
        ).length,
        differing: differingSectors(await result('snap.img'), atMarker),
      },
      cow: { store, differingChunks },
      final: {
        device: sha256(device),
        replayed: sha256(atEnd.image),
        differing: differingSectors(device, atEnd),
      },
      overflow: {
        records: decodeJournalRecords(await result('overflow.bin')),
        info: keyValues((await result('overflow-info.out')).toString()),
        infoAfter: keyValues((await result('overflow-info-after.out')).toString()),
      },
    };
  });
}

/** What contradicts a correct module, by area: the positive run must have none. */
function problemsOf(outcome: Outcome): string[] {
  const { journal, snapshot, cow, final, overflow } = outcome;
  const problems: string[] = [];
  const expect = (area: string, ok: boolean, what: string) => {
    if (!ok) problems.push(`${area}: ${what}`);
  };
  for (const problem of journal.problems) problems.push(`journal: ${problem}`);
  expect('journal', journal.dataRecords >= THREADS * 250, `${journal.dataRecords} data records`);
  expect('journal', journal.fuaRecords > 0, 'no O_DSYNC write carries FUA');
  expect('journal', journal.flushRecords > 0, 'no FLUSH record for fdatasync');

  expect('snapshot', snapshot.copiedChunks > 0, 'no write hit the snapshot while it was read');
  expect('snapshot', snapshot.recordsDuringSnapshot > 0, 'no write completed during the read');
  expect(
    'snapshot',
    snapshot.differing.length === 0,
    `sectors ${snapshot.differing.join(', ')} differ from the disk at the marker`,
  );

  expect('cow', cow.store.magic === 'EXLOGCOW', `magic ${cow.store.magic}`);
  expect('cow', cow.store.version === 1, `version ${cow.store.version}`);
  expect('cow', cow.store.state === 'ENDED', `state ${cow.store.state}`);
  expect('cow', cow.store.markerPos === snapshot.markerPos, `marker ${cow.store.markerPos}`);
  // exlctl reads copied_chunks just before it ends the snapshot; writes may copy more.
  expect(
    'cow',
    cow.store.usedChunks >= snapshot.copiedChunks,
    `${cow.store.usedChunks} slots used, ${snapshot.copiedChunks} copied when last asked`,
  );
  expect(
    'cow',
    cow.store.chunks.every((chunk) => chunk >= 0 && chunk < DISK_BYTES / cow.store.chunkBytes),
    'an index entry names no chunk of the disk',
  );
  expect('cow', new Set(cow.store.chunks).size === cow.store.chunks.length, 'a chunk twice');
  expect(
    'cow',
    cow.differingChunks.length === 0,
    `slots of chunks ${cow.differingChunks.join(', ')} differ from the disk at the marker`,
  );

  expect(
    'final',
    final.differing.length === 0,
    `sectors ${final.differing.join(', ')} differ from the replay`,
  );
  expect('final', final.replayed === final.device, 'the replayed journal is not the final disk');

  const stored = overflow.records.filter((record) => record.type === 'WRITE');
  const last = overflow.records.at(-1);
  expect('overflow', last?.type === 'OVERFLOW', 'the storm does not end in an OVERFLOW record');
  expect('overflow', stored.length === 63, `${stored.length} records kept of a 64-record ring`);
  expect(
    'overflow',
    last?.arg === BigInt(overflow.info.get('lost_total') ?? -1),
    `OVERFLOW reports ${last?.arg} lost, info ${overflow.info.get('lost_total')}`,
  );
  expect(
    'overflow',
    stored.length + Number(last?.arg ?? 0) === STORM_THREADS * STORM_OPS,
    'kept + lost is not the storm',
  );
  expect(
    'overflow',
    overflow.infoAfter.get('tail_pos') === overflow.infoAfter.get('head_pos'),
    'records remain after the drain',
  );
  return problems;
}

test('the journal holds every write in order, the COW snapshot equals the disk at its marker, a replay gives the final disk', async (t) => {
  const outcome = await runScenario(t, 'journal-cow', '');
  await keepConsoleOnFailure(outcome.vm, async () => {
    assert.deepEqual(problemsOf(outcome), []);
  });
});

test('a module that drops one journal record and corrupts one COW copy fails those checks', async (t) => {
  const outcome = await runScenario(
    t,
    'journal-cow-faults',
    'fault_drop_write=40 fault_corrupt_cow=2',
  );
  await keepConsoleOnFailure(outcome.vm, async () => {
    const problems = problemsOf(outcome);
    assert.ok(
      problems.some((problem) => problem.includes('has no journal record')),
      `the dropped record is noticed: ${problems.join('; ')}`,
    );
    assert.ok(
      problems.some((problem) => /^(cow|snapshot): .* differ/.test(problem)),
      `the corrupted COW copy is noticed: ${problems.join('; ')}`,
    );
  });
});
