/** Records of every type, with ordinary and edge values, for codec tests and benchmarks. */
import { extentCrc32c } from '../../schemas/extent-crc.js';
import type {
  ExtentRecord,
  ExtentlogRecord,
  HeartbeatRecord,
  SyncBeginRecord,
  SyncCommitRecord,
} from '../../schemas/extentlog-record.js';

export const INT64_MAX = 2n ** 63n - 1n;

export function writeExtent(overrides: Partial<ExtentRecord> = {}): ExtentRecord {
  const data = overrides.data === undefined ? Buffer.from('extentlog test block ') : overrides.data;
  const base: ExtentRecord = {
    type: 'extent',
    feed: 'feed-a',
    disk: 'vm-42/scsi0:1',
    epoch: 7,
    seq: 1200,
    offsetBytes: 1 << 20,
    lengthBytes: data?.length ?? 0,
    op: 'WRITE',
    crc32c: 0,
    issuedAtNs: 1_700_000_000_000_000_000n,
    completedAtNs: 1_700_000_000_000_500_000n,
    provenance: { changeId: 'change-9', snapshotId: null, journalSeq: 88n },
    data,
    ...overrides,
  };
  return { ...base, crc32c: overrides.crc32c ?? extentCrc32c(base) };
}

export function zeroExtent(overrides: Partial<ExtentRecord> = {}): ExtentRecord {
  return writeExtent({ op: 'ZERO', data: null, lengthBytes: 65536, ...overrides });
}

export const syncBegin: SyncBeginRecord = {
  type: 'sync-begin',
  feed: 'feed-a',
  disk: 'vm-42/scsi0:1',
  epoch: 7,
  seq: 1199,
  mode: 'INCREMENTAL',
  diskSizeBytes: 64 * 2 ** 30,
  blockSizeBytes: 4096,
  sourceReference: 'snap-2024-01-01',
  baseEpoch: 6,
  baseReference: 'snap-2023-12-31',
  rebaselineReason: null,
  startedAtMs: 1_700_000_000_000,
};

export const syncCommit: SyncCommitRecord = {
  type: 'sync-commit',
  feed: 'feed-a',
  disk: 'vm-42/scsi0:1',
  epoch: 7,
  seq: 1300,
  extentCount: 100,
  dataBytes: 100 * 65536,
  digest: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  sourceReference: 'snap-2024-01-01',
  consistency: 'APP_CONSISTENT',
  committedAtMs: 1_700_000_000_999,
};

export const heartbeat: HeartbeatRecord = {
  type: 'heartbeat',
  feed: 'feed-a',
  disk: 'vm-42/scsi0:1',
  epoch: 7,
  seq: 1301,
  lastCommittedEpoch: 7,
  sentAtMs: 1_700_000_001_000,
};

/** One of each type plus edge values: empty WRITE data, max safe integers, 2^63-1 ns. */
export function sampleRecords(): ExtentlogRecord[] {
  return [
    writeExtent(),
    writeExtent({ data: Buffer.alloc(0), lengthBytes: 0 }),
    writeExtent({
      epoch: Number.MAX_SAFE_INTEGER,
      seq: Number.MAX_SAFE_INTEGER,
      offsetBytes: Number.MAX_SAFE_INTEGER,
      issuedAtNs: INT64_MAX,
      completedAtNs: 0n,
      provenance: { changeId: null, snapshotId: 'snap-1', journalSeq: INT64_MAX },
      feed: 'fëed-ü-日本',
    }),
    zeroExtent(),
    zeroExtent({ op: 'DISCARD', lengthBytes: Number.MAX_SAFE_INTEGER, offsetBytes: 0 }),
    zeroExtent({ provenance: { changeId: null, snapshotId: null, journalSeq: null } }),
    syncBegin,
    {
      ...syncBegin,
      mode: 'FULL',
      baseEpoch: null,
      baseReference: null,
      rebaselineReason: 'change tracking reset',
    },
    syncCommit,
    { ...syncCommit, extentCount: 0, dataBytes: 0, consistency: 'CRASH_CONSISTENT' },
    heartbeat,
    { ...heartbeat, lastCommittedEpoch: null, sentAtMs: 0, epoch: 0, seq: 0 },
  ];
}
