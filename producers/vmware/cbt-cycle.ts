/**
 * One cycle of the VMware source over a snapshot: the changed areas come from
 * QueryChangedDiskAreas, page by page (each DiskChangeInfo covers [startOffset,
 * startOffset + length); the next call starts where it ends), the data from the snapshot's
 * NBD export. FULL asks with changeId '*' — the disk's allocated areas — and covers the
 * rest of the disk with ZERO extents; INCREMENTAL asks with the committed changeId.
 * Extents are aligned to the source's block size.
 */
import { BlockAligner } from '../block-aligner.js';
import { CycleLifecycle } from '../cycle-lifecycle.js';
import type { NbdClient } from '../nbd/nbd-client.js';
import { nbdBlockReader } from '../nbd/nbd-block-reader.js';
import { cycleBasis, type ChangedExtent, type ChangeSet, type DiskInfo } from '../source.js';
import { VsphereError } from './errors.js';
import type { DiskChangeInfo } from './vsphere-cbt.js';

export interface CbtCycleOptions {
  readonly disk: DiskInfo;
  readonly mode: 'FULL' | 'INCREMENTAL';
  readonly reference: string;
  readonly baseReference: string | null;
  readonly rebaselineReason?: string;
  readonly snapshotId: string;
  readonly changeId: string;
  /** The answer to the first QueryChangedDiskAreas call (made when the cycle opened). */
  readonly firstPage: DiskChangeInfo;
  readonly nextPage: (startOffset: number) => Promise<DiskChangeInfo>;
  readonly client: NbdClient;
  /** After SyncCommit: remove the snapshot. */
  readonly commit: () => Promise<void>;
  /** Abandoned: remove the snapshot, keep the old changeId. */
  readonly abort: (reason: unknown) => Promise<void>;
}

export function createCbtCycle(options: CbtCycleOptions): ChangeSet {
  const { disk, mode } = options;
  const lifecycle = new CycleLifecycle(disk.diskId, options.reference);
  const openedAtNs = BigInt(Date.now()) * 1_000_000n;
  const extra = {
    issuedAtNs: openedAtNs,
    completedAtNs: openedAtNs,
    provenance: { changeId: options.changeId, snapshotId: options.snapshotId },
  };

  async function* pages(): AsyncGenerator<DiskChangeInfo> {
    let page = options.firstPage;
    for (;;) {
      yield page;
      const next = page.startOffset + page.lengthBytes;
      if (next >= disk.sizeBytes) return;
      if (page.lengthBytes <= 0)
        throw new VsphereError(
          'EXTENTLOG_ERR_VSPHERE_PROTOCOL',
          `disk ${disk.diskId}: QueryChangedDiskAreas at offset ${page.startOffset} covered ${page.lengthBytes} bytes of a ${disk.sizeBytes}-byte disk; it cannot go on`,
        );
      page = await options.nextPage(next);
    }
  }

  async function* scan(): AsyncGenerator<ChangedExtent> {
    const aligner = new BlockAligner(disk.blockSizeBytes, disk.sizeBytes, extra);
    let cursor = 0; // everything before it was yielded to the aligner
    for await (const page of pages()) {
      const areas = [...page.areas].sort((a, b) => a.start - b.start);
      for (const area of areas) {
        const start = Math.max(cursor, area.start);
        const end = Math.min(disk.sizeBytes, area.start + area.length);
        if (end <= start) continue;
        if (mode === 'FULL') aligner.add('ZERO', cursor, start);
        aligner.add('WRITE', start, end);
        cursor = end;
      }
      yield* aligner.take();
    }
    if (mode === 'FULL') aligner.add('ZERO', cursor, disk.sizeBytes);
    yield* aligner.finish();
  }

  return {
    disk,
    ...cycleBasis(mode, options),
    changes: () => lifecycle.scan(scan),
    reader: nbdBlockReader(options.client, disk),
    async commit() {
      lifecycle.beginCommit();
      await options.commit();
    },
    async abort(reason) {
      if (!lifecycle.beginAbort()) return;
      await options.abort(reason);
    },
  };
}
