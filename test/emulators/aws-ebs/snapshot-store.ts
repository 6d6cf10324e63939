/**
 * The emulator's storage, backed by files:
 *
 *   <dir>/volumes/<vol-id>.img   a volume: a sparse image file the test writes into
 *   <dir>/blocks/<sha256 hex>    the content of one 512 KiB block, stored once
 *
 * A snapshot is a copy-on-write block map (block index → content digest): one taken of a
 * volume maps every 512 KiB block that holds allocated data (holes are "never written" and
 * not listed, as in EBS); one started through the direct APIs begins as its parent's map and
 * PutSnapshotBlock replaces entries. Snapshots of one volume, and a direct-API snapshot and
 * its parents, share a lineage; ListChangedBlocks compares maps of one lineage only.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { dataRanges } from '../../../native/fileio/data-ranges.js';
import * as fileio from '../../../native/fileio/index.js';

export const BLOCK_BYTES = 512 * 1024;
export const GiB = 1024 * 1024 * 1024;
export const ZERO_DIGEST = createHash('sha256').update(Buffer.alloc(BLOCK_BYTES)).digest('hex');

export interface Volume {
  readonly volumeId: string;
  readonly sizeGiB: number;
  readonly path: string;
  readonly instanceId: string | null;
  readonly device: string | null;
  readonly createdAtMs: number;
}

export type SnapshotState = 'pending' | 'completed' | 'error';

export interface Snapshot {
  readonly snapshotId: string;
  /** 'vol-ffffffff' for snapshots written through the direct APIs, as EC2 shows them. */
  readonly volumeId: string;
  readonly sizeGiB: number;
  readonly lineage: string;
  readonly parentId: string | null;
  readonly description: string;
  readonly tags: Map<string, string>;
  readonly startedAtMs: number;
  readonly blocks: Map<number, string>;
  state: SnapshotState;
  stateMessage: string | null;
  /** DescribeSnapshots calls left until a pending snapshot (of a volume, or completed) shows completed. */
  describesUntilCompleted: number;
  /** Direct-API snapshots: accepting PutSnapshotBlock until CompleteSnapshot. */
  writable: boolean;
  readonly written: Map<number, string>;
  readonly clientToken: string | null;
  readonly timeoutMinutes: number;
  lastWriteAtMs: number;
}

function newId(prefix: string): string {
  return `${prefix}-${randomBytes(8).toString('hex')}`;
}

export class SnapshotStore {
  readonly volumes = new Map<string, Volume>();
  readonly snapshots = new Map<string, Snapshot>();
  readonly #blocksDir: string;

  constructor(
    private readonly dir: string,
    private readonly describesUntilCompleted: number,
  ) {
    this.#blocksDir = path.join(dir, 'blocks');
  }

  async init(): Promise<void> {
    await mkdir(path.join(this.dir, 'volumes'), { recursive: true });
    await mkdir(this.#blocksDir, { recursive: true });
  }

  async addVolume(options: {
    sizeGiB: number;
    volumeId?: string;
    instanceId?: string;
    device?: string;
  }): Promise<Volume> {
    const volumeId = options.volumeId ?? newId('vol');
    const volumePath = path.join(this.dir, 'volumes', `${volumeId}.img`);
    const handle = await open(volumePath, 'w');
    await handle.truncate(options.sizeGiB * GiB);
    await handle.close();
    const volume: Volume = {
      volumeId,
      sizeGiB: options.sizeGiB,
      path: volumePath,
      instanceId: options.instanceId ?? null,
      device: options.device ?? null,
      createdAtMs: Date.now(),
    };
    this.volumes.set(volumeId, volume);
    return volume;
  }

  async putContent(data: Buffer): Promise<string> {
    const digest = createHash('sha256').update(data).digest('hex');
    const file = path.join(this.#blocksDir, digest);
    const exists = await stat(file).then(
      () => true,
      () => false,
    );
    if (!exists) await writeFile(file, data);
    return digest;
  }

  readContent(digest: string): Promise<Buffer> {
    if (digest === ZERO_DIGEST) return Promise.resolve(Buffer.alloc(BLOCK_BYTES));
    return readFile(path.join(this.#blocksDir, digest));
  }

  /** A point-in-time copy of the volume's written blocks. */
  async snapshotVolume(volume: Volume, description: string, tags: Map<string, string>) {
    const blocks = new Map<number, string>();
    const handle = await open(volume.path, 'r');
    try {
      const sizeBytes = volume.sizeGiB * GiB;
      const ranges = fileio.isAvailable()
        ? await dataRanges(handle.fd, 0, sizeBytes)
        : [{ startBytes: 0, endBytes: sizeBytes }];
      const buffer = Buffer.alloc(BLOCK_BYTES);
      for (const range of ranges) {
        const first = Math.floor(range.startBytes / BLOCK_BYTES);
        const last = Math.ceil(range.endBytes / BLOCK_BYTES);
        for (let index = first; index < last; index++) {
          if (blocks.has(index)) continue;
          buffer.fill(0);
          await handle.read(buffer, 0, BLOCK_BYTES, index * BLOCK_BYTES);
          // Without hole detection every block reads as written; all-zero ones are skipped.
          if (!fileio.isAvailable() && buffer.every((byte) => byte === 0)) continue;
          blocks.set(index, await this.putContent(buffer));
        }
      }
    } finally {
      await handle.close();
    }
    return this.#add({
      volumeId: volume.volumeId,
      sizeGiB: volume.sizeGiB,
      lineage: `volume:${volume.volumeId}`,
      parentId: null,
      description,
      tags,
      blocks,
      writable: false,
      clientToken: null,
      timeoutMinutes: 0,
    });
  }

  /** StartSnapshot: a new snapshot that starts as a copy of its parent's block map. */
  startSnapshot(options: {
    sizeGiB: number;
    parent: Snapshot | null;
    description: string;
    tags: Map<string, string>;
    clientToken: string | null;
    timeoutMinutes: number;
  }): Snapshot {
    const id = newId('snap');
    return this.#add({
      volumeId: 'vol-ffffffff',
      sizeGiB: options.sizeGiB,
      lineage: options.parent?.lineage ?? `direct:${id}`,
      parentId: options.parent?.snapshotId ?? null,
      description: options.description,
      tags: options.tags,
      blocks: new Map(options.parent?.blocks ?? []),
      writable: true,
      clientToken: options.clientToken,
      timeoutMinutes: options.timeoutMinutes,
      snapshotId: id,
    });
  }

  #add(fields: {
    volumeId: string;
    sizeGiB: number;
    lineage: string;
    parentId: string | null;
    description: string;
    tags: Map<string, string>;
    blocks: Map<number, string>;
    writable: boolean;
    clientToken: string | null;
    timeoutMinutes: number;
    snapshotId?: string;
  }): Snapshot {
    const now = Date.now();
    const snapshot: Snapshot = {
      ...fields,
      snapshotId: fields.snapshotId ?? newId('snap'),
      startedAtMs: now,
      state: 'pending',
      stateMessage: null,
      describesUntilCompleted: this.describesUntilCompleted,
      written: new Map(),
      lastWriteAtMs: now,
    };
    this.snapshots.set(snapshot.snapshotId, snapshot);
    return snapshot;
  }

  /** A direct-API snapshot left without writes for its Timeout goes into the error state. */
  expireIdle(snapshot: Snapshot, nowMs: number): void {
    if (
      snapshot.writable &&
      snapshot.state === 'pending' &&
      nowMs - snapshot.lastWriteAtMs > snapshot.timeoutMinutes * 60_000
    ) {
      snapshot.writable = false;
      snapshot.state = 'error';
      snapshot.stateMessage = `no block was written for ${snapshot.timeoutMinutes} minutes (Timeout)`;
    }
  }
}
