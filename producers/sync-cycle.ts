/**
 * One sync cycle of one disk: SyncBegin, the changed extents as records, SyncCommit.
 *
 *   SyncBegin(epoch E, seq s) · Extent(s+1) · Extent(s+2) · … · SyncCommit(E, seq s+n+1)
 *
 * WRITE ranges are read through the change set's consistent view with read-ahead, cut at
 * multiples of `maxRecordBytes`, and their all-zero block runs sent as ZERO records with no
 * data. Every Extent carries a CRC-32C over its position and data; the SyncCommit carries
 * the epoch digest over all Extents. The SyncCommit is sent only after every Extent is
 * acknowledged, and the source drops its old reference only after the SyncCommit is.
 * A CONTINUOUS change set commits at each consistency point and opens the next epoch.
 */
import type { LogProducer } from '../log/log-client.js';
import { createEpochDigest, type EpochDigest } from '../schemas/epoch-digest.js';
import { extentCrc32c } from '../schemas/extent-crc.js';
import type { ExtentlogRecord, SyncMode } from '../schemas/extentlog-record.js';
import { ChangeMap, type ChangeMapSnapshot } from './change-map.js';
import { orderedMap } from './ordered-map.js';
import { RangeSet } from './range-set.js';
import {
  cutAtMultiples,
  splitZeroRuns,
  type ByteRange,
  type RecordPiece,
} from './record-pieces.js';
import type { ChangeSet, ChangedExtent, Provenance } from './source.js';
import type { CommittedEpoch, DiskPosition } from './feed-position.js';

export interface CycleLimits {
  /** Largest data payload of one record (a multiple of the disk's block size is best). */
  readonly maxRecordBytes: number;
  /** Zero runs shorter than this stay inside WRITE records. */
  readonly minZeroRunBytes: number;
  /** Reads in flight ahead of publishing. */
  readonly readConcurrency: number;
}

export interface CycleProgress {
  readonly epoch: number;
  readonly mode: SyncMode;
  /** Highest disk offset reached so far (for FULL: of diskSizeBytes). */
  readonly positionBytes: number;
  readonly diskSizeBytes: number;
  readonly extentRecords: number;
  readonly dataBytes: number;
  readonly zeroBytes: number;
}

export interface CycleResult {
  readonly epochs: readonly number[];
  readonly mode: SyncMode;
  readonly extentRecords: number;
  readonly dataBytes: number;
  readonly zeroBytes: number;
  readonly nextSeq: number;
  readonly rebaselineReason: string | null;
  /** The last epoch this cycle committed, or null when it ended with an uncommitted epoch. */
  readonly committed: CommittedEpoch | null;
  /** Where on the disk this cycle's records fell (for the status page). */
  readonly changeMap: ChangeMapSnapshot;
}

export interface CycleContext {
  readonly feed: string;
  readonly topic: string;
  readonly position: DiskPosition;
  readonly changeSet: ChangeSet;
  readonly producer: LogProducer;
  readonly encode: (record: ExtentlogRecord) => Buffer;
  readonly limits: CycleLimits;
  readonly now: () => number;
  readonly onProgress?: (progress: CycleProgress) => void;
  /** Why the feed asked for a FULL cycle (operator request, uncommitted FULL epoch …). */
  readonly rebaselineReason?: string;
}

interface EpochState {
  epoch: number;
  digest: EpochDigest;
  dataBytes: number;
  zeroBytes: number;
}

export async function runSyncCycle(context: CycleContext): Promise<CycleResult> {
  const { feed, topic, position, changeSet, producer, encode, limits } = context;
  const disk = changeSet.disk;
  const key = Buffer.from(disk.diskId);
  const partition = position.partition;
  let seq = position.nextSeq;
  const rebaselineReason =
    changeSet.mode === 'FULL'
      ? (context.rebaselineReason ?? changeSet.rebaselineReason ?? null)
      : null;
  const epochs: number[] = [];
  const startedNs = BigInt(context.now()) * 1_000_000n;
  let totalRecords = 0;
  let totalData = 0;
  let totalZero = 0;
  let positionBytes = 0;
  const changeMap = new ChangeMap(disk.sizeBytes);

  const publish = (record: ExtentlogRecord) =>
    producer.publish(topic, partition, [{ key, value: encode(record) }]);
  const sendMarker = async (record: ExtentlogRecord) => {
    await producer.flush();
    await producer.send(topic, partition, [{ key, value: encode(record) }]);
  };

  const begin = async (
    epoch: number,
    mode: SyncMode,
    baseEpoch: number | null,
    baseReference: string | null,
    reference: string,
  ) => {
    epochs.push(epoch);
    await sendMarker({
      type: 'sync-begin',
      feed,
      disk: disk.diskId,
      epoch,
      seq: seq++,
      mode,
      diskSizeBytes: disk.sizeBytes,
      blockSizeBytes: disk.blockSizeBytes,
      sourceReference: reference,
      baseEpoch,
      baseReference,
      rebaselineReason,
      startedAtMs: context.now(),
    });
    return {
      epoch,
      digest: createEpochDigest(epoch),
      dataBytes: 0,
      zeroBytes: 0,
    } satisfies EpochState;
  };

  let committed: CommittedEpoch | null = null;
  const commit = async (state: EpochState, reference: string) => {
    const committedAtMs = context.now();
    const commitSeq = seq;
    await sendMarker({
      type: 'sync-commit',
      feed,
      disk: disk.diskId,
      epoch: state.epoch,
      seq: seq++,
      extentCount: state.digest.extentCount,
      dataBytes: state.dataBytes,
      digest: state.digest.hex(),
      sourceReference: reference,
      consistency: 'CRASH_CONSISTENT',
      committedAtMs,
    });
    committed = { epoch: state.epoch, seq: commitSeq, reference, committedAtMs };
  };

  const emit = async (
    state: EpochState,
    piece: RecordPiece | (ByteRange & { op: 'DISCARD'; data: null }),
    extent?: ChangedExtent,
  ) => {
    const provenance: Provenance = extent?.provenance ?? {};
    const fields = {
      epoch: state.epoch,
      seq: seq++,
      offsetBytes: piece.offsetBytes,
      lengthBytes: piece.lengthBytes,
      op: piece.op,
      data: piece.data,
    };
    const crc32c = extentCrc32c(fields);
    state.digest.add({ ...fields, crc32c });
    if (piece.op === 'WRITE') state.dataBytes += piece.lengthBytes;
    else state.zeroBytes += piece.lengthBytes;
    totalRecords += 1;
    changeMap.add(piece.offsetBytes, piece.lengthBytes);
    await publish({
      type: 'extent',
      feed,
      disk: disk.diskId,
      ...fields,
      crc32c,
      issuedAtNs: extent?.issuedAtNs ?? startedNs,
      completedAtNs: extent?.completedAtNs ?? startedNs,
      provenance: {
        changeId: provenance.changeId ?? null,
        snapshotId: provenance.snapshotId ?? null,
        journalSeq: provenance.journalSeq ?? null,
      },
    });
  };

  const report = (state: EpochState, mode: SyncMode) =>
    context.onProgress?.({
      epoch: state.epoch,
      mode,
      positionBytes,
      diskSizeBytes: disk.sizeBytes,
      extentRecords: totalRecords,
      dataBytes: totalData + state.dataBytes,
      zeroBytes: totalZero + state.zeroBytes,
    });

  /** Turns one changed extent into the jobs that produce its records, in order. */
  function* jobsOf(extent: ChangedExtent): Generator<() => Promise<RecordPiece[]>> {
    if (extent.op !== 'WRITE') {
      yield async () => [
        {
          offsetBytes: extent.offsetBytes,
          lengthBytes: extent.lengthBytes,
          op: 'ZERO',
          data: null,
        },
      ];
      return;
    }
    for (const range of cutAtMultiples(extent, limits.maxRecordBytes)) {
      yield async () => {
        const data =
          extent.data !== undefined
            ? extent.data.subarray(
                range.offsetBytes - extent.offsetBytes,
                range.offsetBytes - extent.offsetBytes + range.lengthBytes,
              )
            : await changeSet.reader.read(range.offsetBytes, range.lengthBytes);
        return splitZeroRuns(range.offsetBytes, data, disk.blockSizeBytes, limits.minZeroRunBytes);
      };
    }
  }

  const uncommitted = position.uncommitted;
  const mode = changeSet.mode;
  const baseEpoch = mode === 'FULL' ? null : (position.committed?.epoch ?? null);
  let state: EpochState | null = await begin(
    position.nextEpoch,
    mode,
    baseEpoch,
    changeSet.baseReference,
    changeSet.reference,
  );
  let nextEpoch = position.nextEpoch + 1;
  let lastPoint: { epoch: number; reference: string } | null = null;
  const covered = uncommitted.ranges.size > 0 ? new RangeSet() : null;

  type Item = { extent: ChangedExtent; job: () => Promise<RecordPiece[]> } | { point: string };
  async function* items(): AsyncGenerator<Item> {
    for await (const item of changeSet.changes()) {
      if (item.kind === 'consistency-point') {
        yield { point: item.reference };
        continue;
      }
      covered?.add(item);
      for (const job of jobsOf(item)) yield { extent: item, job };
    }
    if (covered !== null) {
      for (const range of uncommitted.ranges.difference(covered)) {
        const extent: ChangedExtent = { kind: 'extent', ...range, op: 'WRITE' };
        for (const job of jobsOf(extent)) yield { extent, job };
      }
    }
  }

  const finish = async (finished: EpochState, reference: string) => {
    await commit(finished, reference);
    totalData += finished.dataBytes;
    totalZero += finished.zeroBytes;
  };

  const run = async (item: Item) =>
    'point' in item ? { item, pieces: [] } : { item, pieces: await item.job() };
  for await (const { item, pieces } of orderedMap(items(), limits.readConcurrency, run)) {
    if ('point' in item) {
      // CONTINUOUS: everything so far is consistent; the next extent opens the next epoch.
      if (state === null) continue;
      await finish(state, item.point);
      await changeSet.commitConsistencyPoint?.(item.point);
      lastPoint = { epoch: state.epoch, reference: item.point };
      state = null;
      continue;
    }
    if (state === null) {
      state = await begin(
        nextEpoch++,
        'CONTINUOUS',
        lastPoint?.epoch ?? null,
        lastPoint?.reference ?? null,
        lastPoint?.reference ?? changeSet.reference,
      );
    }
    for (const piece of pieces) {
      if (item.extent.op === 'DISCARD')
        await emit(state, { ...piece, op: 'DISCARD', data: null }, item.extent);
      else await emit(state, piece, item.extent);
      positionBytes = Math.max(positionBytes, piece.offsetBytes + piece.lengthBytes);
    }
    report(state, mode);
  }
  if (mode !== 'CONTINUOUS' && state !== null) {
    await finish(state, changeSet.reference);
  } else if (state !== null) {
    // A CONTINUOUS stream that ends between consistency points leaves its last epoch
    // uncommitted: the next cycle re-sends those ranges (see feed-position.ts).
    await producer.flush();
    await changeSet.abort(
      new Error(
        `the change stream ended inside epoch ${state.epoch}, after its last consistency point`,
      ),
    );
    committed = null;
    return summary();
  }
  await changeSet.commit();
  return summary();

  function summary(): CycleResult {
    return {
      epochs,
      mode,
      extentRecords: totalRecords,
      dataBytes: totalData,
      zeroBytes: totalZero,
      nextSeq: seq,
      rebaselineReason,
      committed,
      changeMap: changeMap.snapshot(),
    };
  }
}
