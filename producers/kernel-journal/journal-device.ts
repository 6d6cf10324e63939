/**
 * What the kernel-journal source needs of /dev/extentlog/<name>: the calls of the `kjournal`
 * addon (native/kjournal/), as a port so that the source's logic can be tested against an
 * in-memory journal. The composition root passes `openKernelJournal`.
 */
import type { JournalRecord } from '../../native/kjournal/journal-record.js';
import type { JournalInfo, SnapshotStart } from '../../native/kjournal/index.js';

export type { JournalInfo, JournalRecord, SnapshotStart };

export interface JournalDevice {
  /** [] after `timeoutMs` without records; null once the target is gone. */
  read(maxRecords: number, timeoutMs: number): Promise<JournalRecord[] | null>;
  info(): Promise<JournalInfo>;
  ack(pos: bigint): Promise<void>;
  /** `releaseBelow`: release every record below the marker as the snapshot starts. */
  startSnapshot(
    storePath: string,
    chunkBytes: number,
    options?: { readonly releaseBelow?: boolean },
  ): Promise<SnapshotStart>;
  stopSnapshot(snapId: bigint): Promise<void>;
  readSnapshot(snapId: bigint, offsetBytes: number, lengthBytes: number): Promise<Buffer>;
  close(): Promise<void>;
}

export type OpenJournal = (path: string) => Promise<JournalDevice>;
