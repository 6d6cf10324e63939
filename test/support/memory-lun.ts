/**
 * An in-memory LUN for unit tests of the iSCSI target disk (a fake of our `Lun` port): a
 * volatile write cache over a durable medium, commands that complete after random delays (so
 * overlapping ones would race if the disk did not order them), and crashes that throw away
 * whatever SYNCHRONIZE CACHE had not made durable and start a new session generation.
 */
import type { BlockRange, Completion, Lun, LunGeometry } from '../../consumers/iscsi/lun.js';
import { NativeError } from '../../native/errors.js';

export interface MemoryLunOptions {
  readonly sizeBytes: number;
  readonly blockSizeBytes?: number;
  readonly geometry?: Partial<LunGeometry>;
  /** Commands refused with ILLEGAL REQUEST / INVALID COMMAND OPERATION CODE. */
  readonly refuse?: readonly ('write-same' | 'unmap' | 'synchronize-cache')[];
  readonly random?: () => number;
}

export interface RecordedCommand {
  readonly kind: 'write' | 'read' | 'write-same' | 'unmap' | 'synchronize-cache';
  readonly lba?: number;
  readonly blocks?: number;
  readonly unmap?: boolean;
  readonly ranges?: readonly BlockRange[];
}

export class MemoryLun implements Lun {
  readonly description = 'iqn.2024-01.test:memory LUN 1 at memory';
  geometry: LunGeometry;
  /** What survives a crash. */
  durable: Buffer;
  /** What reads see. */
  cache: Buffer;
  readonly unmapped = new Set<number>();
  readonly commands: RecordedCommand[] = [];
  generation = 1;
  inFlight = 0;
  peakInFlight = 0;
  closed = false;
  /** Crash the target when this many more commands have been submitted. */
  crashAfter: number | null = null;
  /** Fail the next command with this error (once). */
  failNext: Error | null = null;
  private readonly random: () => number;
  private readonly refuse: ReadonlySet<string>;

  constructor(options: MemoryLunOptions) {
    const blockSizeBytes = options.blockSizeBytes ?? 512;
    this.geometry = {
      blockSizeBytes,
      sizeBytes: options.sizeBytes,
      maxWriteBytes: 64 * 1024,
      maxWriteSameBlocks: 256,
      maxUnmapBlocks: 128,
      maxUnmapDescriptors: 4,
      unmapSupported: true,
      writeSameUnmapSupported: true,
      readsZerosWhenUnmapped: true,
      ...options.geometry,
    };
    this.durable = Buffer.alloc(options.sizeBytes);
    this.cache = Buffer.alloc(options.sizeBytes);
    this.random = options.random ?? Math.random;
    this.refuse = new Set(options.refuse ?? []);
  }

  /** The target restarts: unsynced writes are gone, the next command runs on a new session. */
  crash(): void {
    this.cache = Buffer.from(this.durable);
    this.generation += 1;
  }

  async refreshGeometry(): Promise<LunGeometry> {
    return this.geometry;
  }

  write(lba: number, data: Buffer): Promise<Completion> {
    const copy = Buffer.from(data);
    return this.run({ kind: 'write', lba, blocks: data.length / this.bs }, () => {
      copy.copy(this.cache, lba * this.bs);
      for (let block = lba; block < lba + copy.length / this.bs; block++)
        this.unmapped.delete(block);
    });
  }

  read(lba: number, into: Buffer): Promise<Completion> {
    return this.run({ kind: 'read', lba, blocks: into.length / this.bs }, () => {
      this.cache.copy(into, 0, lba * this.bs, lba * this.bs + into.length);
    });
  }

  writeSame(lba: number, blocks: number, unmap: boolean): Promise<Completion> {
    return this.run({ kind: 'write-same', lba, blocks, unmap }, () =>
      this.zero(lba, blocks, unmap),
    );
  }

  unmap(ranges: readonly BlockRange[]): Promise<Completion> {
    return this.run({ kind: 'unmap', ranges }, () => {
      for (const range of ranges) this.zero(range.lba, range.blocks, true);
    });
  }

  synchronizeCache(): Promise<Completion> {
    return this.run({ kind: 'synchronize-cache' }, () => {
      this.durable = Buffer.from(this.cache);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private get bs(): number {
    return this.geometry.blockSizeBytes;
  }

  private zero(lba: number, blocks: number, unmap: boolean): void {
    this.cache.fill(0, lba * this.bs, (lba + blocks) * this.bs);
    for (let block = lba; block < lba + blocks; block++)
      if (unmap) this.unmapped.add(block);
      else this.unmapped.delete(block);
  }

  private async run(command: RecordedCommand, effect: () => void): Promise<Completion> {
    if (this.closed) throw new Error('memory LUN used after close');
    this.commands.push(command);
    const name = command.kind;
    if (this.refuse.has(name))
      throw new NativeError(
        'EXTENTLOG_ERR_NATIVE_ISCSI_SCSI',
        `${name}: INVALID COMMAND OPERATION CODE`,
        {
          details: { senseKey: 0x5, asc: 0x20, ascq: 0 },
        },
      );
    this.inFlight += 1;
    this.peakInFlight = Math.max(this.peakInFlight, this.inFlight);
    try {
      // Complete after 0–3 turns of the event loop, in no particular order.
      const turns = Math.floor(this.random() * 4);
      for (let turn = 0; turn < turns; turn++)
        await new Promise((resolve) => setImmediate(resolve));
      if (this.failNext !== null) {
        const error = this.failNext;
        this.failNext = null;
        throw error;
      }
      if (this.crashAfter !== null && --this.crashAfter <= 0) {
        this.crashAfter = null;
        // The connection broke with this command in flight: the target lost its cache, and
        // the command is issued again on the next session (what LunConnection does).
        this.crash();
      }
      effect();
      return { generation: this.generation };
    } finally {
      this.inFlight -= 1;
    }
  }
}
