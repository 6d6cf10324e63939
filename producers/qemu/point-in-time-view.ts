/**
 * A read-only NBD export of a disk frozen at the cycle's point in time, with the dirty
 * bitmap of the last committed cycle (for an INCREMENTAL) — what a QEMU source cycle
 * reads. Offline images get one from qemu-nbd (image-view.ts), running VMs from a
 * fleecing node exported over QMP (live-view.ts).
 */
import type { NbdAddress } from '../nbd/nbd-client.js';

export interface PointInTimeView {
  readonly address: NbdAddress;
  readonly exportName: string;
  readonly sizeBytes: number;
  /** 'qemu:dirty-bitmap:<base>' for an INCREMENTAL, null for a FULL. */
  readonly dirtyContext: string | null;
  /** Releases the view and keeps only the new bitmap (after SyncCommit). */
  commit(): Promise<void>;
  /** Releases the view and keeps the old bitmap tracking every change since it. */
  abort(): Promise<void>;
}
