/**
 * The EBS target's local staging of one epoch: the 512 KiB blocks the epoch changes, merged
 * (read-modify-write) and kept on local disk until the epoch's SyncCommit, when they are
 * written to a new snapshot. Memory stays at a block or two whatever the epoch's size; the
 * disk holds at most the epoch's changed blocks (a sparse file).
 *
 *   <dir>/epoch.json   which epoch, its base snapshot, the snapshot being written (if any)
 *   <dir>/blocks.img   block i at i × 524288 (sparse)
 *   <dir>/states.bin   one byte per block: 0 untouched, 1 data in blocks.img, 2 all zeros
 *
 * `flush()` makes blocks.img and states.bin durable: the replay engine commits offsets only
 * after it, and after a crash it re-applies the records from there, so a staging reopened
 * for the same epoch holds exactly what the committed offset covers. Blocks written after
 * the last flush may differ in blocks.img, but their state is still 0 or their re-applied
 * records write the same bytes again.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, writeFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { EBS_BLOCK_BYTES } from '../../cloud/aws/ebs-checksums.js';

export const UNTOUCHED = 0;
export const DATA = 1;
export const ZEROS = 2;

export interface EpochDescription {
  readonly epoch: number;
  readonly diskSizeBytes: number;
  readonly parentSnapshotId: string | null;
  /** Stable across restarts: part of StartSnapshot's ClientToken. */
  readonly nonce: string;
  snapshotId: string | null;
}

export class EpochStaging {
  #dirty = false;

  private constructor(
    readonly dir: string,
    readonly description: EpochDescription,
    readonly states: Uint8Array,
    private readonly blocks: FileHandle,
  ) {}

  get blockCount(): number {
    return this.states.length;
  }

  /**
   * The staging of `epoch` in `dir`: reopened when a previous run staged the same epoch of
   * the same size, otherwise started empty (a different epoch left there was superseded).
   */
  static async open(
    dir: string,
    epoch: number,
    diskSizeBytes: number,
    parentSnapshotId: string | null,
  ): Promise<EpochStaging> {
    await mkdir(dir, { recursive: true });
    const blockCount = Math.ceil(diskSizeBytes / EBS_BLOCK_BYTES);
    const previous = await readDescription(dir);
    if (
      previous !== null &&
      previous.epoch === epoch &&
      previous.diskSizeBytes === diskSizeBytes &&
      previous.parentSnapshotId === parentSnapshotId
    ) {
      const states = new Uint8Array(blockCount);
      const saved = await readFile(path.join(dir, 'states.bin')).catch(() => null);
      if (saved !== null && saved.length === blockCount) states.set(saved);
      const blocks = await open(path.join(dir, 'blocks.img'), 'r+');
      return new EpochStaging(dir, previous, states, blocks);
    }
    await rm(path.join(dir, 'states.bin'), { force: true });
    const blocks = await open(path.join(dir, 'blocks.img'), 'w+');
    const description: EpochDescription = {
      epoch,
      diskSizeBytes,
      parentSnapshotId,
      nonce: randomBytes(8).toString('hex'),
      snapshotId: null,
    };
    await writeDescription(dir, description);
    return new EpochStaging(dir, description, new Uint8Array(blockCount), blocks);
  }

  /** Writes `data` at `offsetBytes` of the disk (within one block's staged copy). */
  async write(offsetBytes: number, data: Buffer): Promise<void> {
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await this.blocks.write(
        data,
        done,
        data.length - done,
        offsetBytes + done,
      );
      done += bytesWritten;
    }
    this.#dirty = true;
  }

  /** The staged block, 524288 bytes (zeros past the disk's end). */
  async readBlock(blockIndex: number): Promise<Buffer> {
    const buffer = Buffer.alloc(EBS_BLOCK_BYTES);
    let done = 0;
    while (done < EBS_BLOCK_BYTES) {
      const { bytesRead } = await this.blocks.read(
        buffer,
        done,
        EBS_BLOCK_BYTES - done,
        blockIndex * EBS_BLOCK_BYTES + done,
      );
      if (bytesRead === 0) break; // the sparse file ends: the rest reads as zeros
      done += bytesRead;
    }
    return buffer;
  }

  setState(blockIndex: number, state: number): void {
    this.states[blockIndex] = state;
    this.#dirty = true;
  }

  async flush(): Promise<void> {
    if (!this.#dirty) return;
    await this.blocks.datasync();
    const next = path.join(this.dir, 'states.bin.next');
    const handle = await open(next, 'w');
    try {
      await handle.write(this.states);
      await handle.datasync();
    } finally {
      await handle.close();
    }
    await rename(next, path.join(this.dir, 'states.bin'));
    this.#dirty = false;
  }

  async recordSnapshot(snapshotId: string): Promise<void> {
    this.description.snapshotId = snapshotId;
    await writeDescription(this.dir, this.description);
  }

  async close(): Promise<void> {
    await this.blocks.close();
  }

  /** The epoch is in a completed snapshot: nothing staged is needed any more. */
  async remove(): Promise<void> {
    await this.close().catch(() => undefined);
    await rm(this.dir, { recursive: true, force: true });
  }
}

async function readDescription(dir: string): Promise<EpochDescription | null> {
  try {
    return JSON.parse(await readFile(path.join(dir, 'epoch.json'), 'utf8')) as EpochDescription;
  } catch {
    return null;
  }
}

async function writeDescription(dir: string, description: EpochDescription): Promise<void> {
  const next = path.join(dir, 'epoch.json.next');
  await writeFile(next, JSON.stringify(description));
  const handle = await open(next, 'r');
  await handle.datasync().finally(() => handle.close());
  await rename(next, path.join(dir, 'epoch.json'));
}
