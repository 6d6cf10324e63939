/**
 * The state behind the OCI emulator: volumes (image files the test writes to), volume groups,
 * backups (point-in-time copies taken when the backup is requested), restored volumes served
 * by tgtd, iSCSI attachments with CHAP, and work requests. Resources settle the way the real
 * service's do, in steps seen by polling: a resource reaches its final lifecycleState after
 * `pollsToSettle` reads (or when its work request succeeds).
 *
 * A volume restored from two backups (volumeBackupDelta) is a sparse file that holds exactly
 * the blocks (of changeBlockSizeInBytes) that differ between them, with the second backup's
 * bytes — zeros written out, so a block changed to zeros is still there; tgtd's GET LBA
 * STATUS then reports the changed blocks as mapped and the rest as deallocated. A volume
 * restored from one backup holds that backup's non-zero blocks.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { copyFile, open, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Tgtd } from '../../peers/tgtd.js';
import { createSparseFile } from '../../support/sparse-file.js';

export class OciServiceError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

interface Settling {
  lifecycleState: string;
  pendingPolls: number;
  /** The state it settles in. */
  settlesAs: string;
}

export interface EmulatedVolume extends Settling {
  readonly id: string;
  readonly compartmentId: string;
  readonly availabilityDomain: string;
  readonly displayName: string;
  readonly sizeBytes: number;
  readonly path: string;
  /** Restored volumes are served by tgtd. */
  readonly tid: number | null;
  readonly iqn: string | null;
  /** For a delta volume: the changed byte ranges, [start, end). */
  readonly changedRanges: readonly [number, number][] | null;
}

export interface EmulatedBackup extends Settling {
  readonly id: string;
  readonly volumeId: string;
  readonly path: string;
  readonly sizeBytes: number;
  readonly type: 'FULL' | 'INCREMENTAL';
  readonly timeCreated: string;
}

export interface EmulatedGroupBackup extends Settling {
  readonly id: string;
  readonly volumeGroupId: string;
  readonly volumeBackupIds: readonly string[];
  readonly type: 'FULL' | 'INCREMENTAL';
  readonly timeCreated: string;
}

export interface EmulatedAttachment extends Settling {
  readonly id: string;
  readonly instanceId: string;
  readonly volumeId: string;
  readonly tid: number;
  readonly iqn: string;
  readonly chapUsername: string;
  readonly chapSecret: string;
}

export interface EmulatedWorkRequest {
  readonly id: string;
  readonly operationType: string;
  status: string;
  pendingPolls: number;
  readonly resources: { entityType: string; actionType: string; identifier: string }[];
  readonly settle: () => Promise<void>;
}

const BLOCK_SCAN_BYTES = 4096;

function ocid(kind: string): string {
  return `ocid1.${kind}.oc1.emulated.${randomUUID().replaceAll('-', '')}`;
}

export class BlockVolumeStore {
  readonly volumes = new Map<string, EmulatedVolume>();
  readonly groups = new Map<string, readonly string[]>();
  readonly backups = new Map<string, EmulatedBackup>();
  readonly groupBackups = new Map<string, EmulatedGroupBackup>();
  readonly attachments = new Map<string, EmulatedAttachment>();
  readonly workRequests = new Map<string, EmulatedWorkRequest>();
  private nextTid = 100;

  constructor(
    private readonly dataDir: string,
    private readonly tgtd: Tgtd,
    private readonly pollsToSettle: number,
  ) {}

  /** Reads a resource the way GET does: one poll closer to its final state. */
  poll<T extends Settling>(resource: T | undefined, what: string): T {
    if (resource === undefined)
      throw new OciServiceError(
        404,
        'NotAuthorizedOrNotFound',
        `Authorization failed or requested ${what} not found.`,
      );
    if (resource.pendingPolls > 0 && --resource.pendingPolls === 0)
      resource.lifecycleState = resource.settlesAs;
    return resource;
  }

  settling(initial: string, final: string): Settling {
    return this.pollsToSettle === 0
      ? { lifecycleState: final, pendingPolls: 0, settlesAs: final }
      : { lifecycleState: initial, pendingPolls: this.pollsToSettle, settlesAs: final };
  }

  workRequest(
    operationType: string,
    resource: { entityType: string; identifier: string; actionType: string },
    settle: () => Promise<void> = async () => undefined,
  ): EmulatedWorkRequest {
    const request: EmulatedWorkRequest = {
      id: ocid('workrequest'),
      operationType,
      status: this.pollsToSettle === 0 ? 'SUCCEEDED' : 'ACCEPTED',
      pendingPolls: this.pollsToSettle,
      resources: [resource],
      settle,
    };
    this.workRequests.set(request.id, request);
    return request;
  }

  async pollWorkRequest(id: string): Promise<EmulatedWorkRequest> {
    const request = this.workRequests.get(id);
    if (request === undefined)
      throw new OciServiceError(404, 'NotAuthorizedOrNotFound', `Work request ${id} not found.`);
    if (request.pendingPolls > 0) {
      request.pendingPolls -= 1;
      request.status = request.pendingPolls === 0 ? 'SUCCEEDED' : 'IN_PROGRESS';
    }
    if (request.status === 'SUCCEEDED') await request.settle();
    return request;
  }

  /** A source volume the test writes to: a sparse file of `sizeBytes`. */
  async addVolume(volumeGroupId: string, sizeBytes: number): Promise<EmulatedVolume> {
    const id = ocid('volume');
    const volume: EmulatedVolume = {
      id,
      compartmentId: 'ocid1.compartment.oc1..emulated',
      availabilityDomain: 'emulated:AD-1',
      displayName: `source ${this.volumes.size + 1}`,
      sizeBytes,
      path: path.join(this.dataDir, `${id}.img`),
      tid: null,
      iqn: null,
      changedRanges: null,
      lifecycleState: 'AVAILABLE',
      pendingPolls: 0,
      settlesAs: 'AVAILABLE',
    };
    await createSparseFile(volume.path, sizeBytes);
    this.volumes.set(id, volume);
    this.groups.set(volumeGroupId, [...(this.groups.get(volumeGroupId) ?? []), id]);
    return volume;
  }

  async createGroupBackup(
    volumeGroupId: string,
    type: 'FULL' | 'INCREMENTAL',
  ): Promise<EmulatedGroupBackup> {
    const volumeIds = this.groups.get(volumeGroupId);
    if (volumeIds === undefined)
      throw new OciServiceError(
        404,
        'NotAuthorizedOrNotFound',
        `Volume group ${volumeGroupId} not found.`,
      );
    const timeCreated = new Date().toISOString();
    const volumeBackupIds: string[] = [];
    for (const volumeId of volumeIds) {
      const volume = this.volumes.get(volumeId)!;
      const id = ocid('volumebackup');
      const backupPath = path.join(this.dataDir, `${id}.backup`);
      await copyFile(volume.path, backupPath);
      const first = ![...this.backups.values()].some((backup) => backup.volumeId === volumeId);
      this.backups.set(id, {
        id,
        volumeId,
        path: backupPath,
        sizeBytes: volume.sizeBytes,
        type: first ? 'FULL' : type,
        timeCreated,
        ...this.settling('CREATING', 'AVAILABLE'),
      });
      volumeBackupIds.push(id);
    }
    const groupBackup: EmulatedGroupBackup = {
      id: ocid('volumegroupbackup'),
      volumeGroupId,
      volumeBackupIds,
      type,
      timeCreated,
      ...this.settling('CREATING', 'AVAILABLE'),
    };
    this.groupBackups.set(groupBackup.id, groupBackup);
    return groupBackup;
  }

  /** CreateVolume from one backup (full) or from two (the blocks changed between them). */
  async restoreVolume(details: {
    compartmentId: string;
    availabilityDomain: string;
    displayName: string;
    sourceDetails: {
      type: string;
      id?: string;
      firstBackupId?: string;
      secondBackupId?: string;
      changeBlockSizeInBytes?: number;
    };
  }): Promise<EmulatedVolume> {
    const source = details.sourceDetails;
    const backup = (id: string | undefined, role: string) => {
      const found = id === undefined ? undefined : this.backups.get(id);
      if (found === undefined)
        throw new OciServiceError(404, 'NotAuthorizedOrNotFound', `${role} ${id} not found.`);
      if (found.lifecycleState !== 'AVAILABLE')
        throw new OciServiceError(
          409,
          'IncorrectState',
          `${role} ${id} is ${found.lifecycleState}.`,
        );
      return found;
    };
    const id = ocid('volume');
    const volumePath = path.join(this.dataDir, `${id}.restored`);
    let changedRanges: [number, number][] | null = null;
    let sizeBytes: number;
    if (source.type === 'volumeBackupDelta') {
      const first = backup(source.firstBackupId, 'firstBackupId');
      const second = backup(source.secondBackupId, 'secondBackupId');
      const blockBytes = source.changeBlockSizeInBytes ?? 4096;
      if (first.volumeId !== second.volumeId)
        throw new OciServiceError(
          400,
          'InvalidParameter',
          'Both backups must be of the same volume.',
        );
      if (second.type !== 'INCREMENTAL')
        throw new OciServiceError(
          400,
          'InvalidParameter',
          'The second backup must be an incremental backup.',
        );
      if (first.sizeBytes !== second.sizeBytes)
        throw new OciServiceError(
          400,
          'InvalidParameter',
          'The volume was resized between the backups.',
        );
      if (blockBytes < 4096 || blockBytes > 1048576 || (blockBytes & (blockBytes - 1)) !== 0)
        throw new OciServiceError(
          400,
          'InvalidParameter',
          'changeBlockSizeInBytes must be a power of 2 from 4096 to 1048576.',
        );
      sizeBytes = second.sizeBytes;
      changedRanges = await writeDelta(first.path, second.path, volumePath, sizeBytes, blockBytes);
    } else if (source.type === 'volumeBackup') {
      const only = backup(source.id, 'volume backup');
      sizeBytes = only.sizeBytes;
      await writeNonZeroBlocks(only.path, volumePath, sizeBytes);
    } else
      throw new OciServiceError(
        400,
        'InvalidParameter',
        `sourceDetails type ${source.type} is not emulated.`,
      );
    const tid = this.nextTid++;
    const iqn = `iqn.2015-12.com.oracleiaas:${randomUUID()}`;
    await this.tgtd.addTarget({
      tid,
      iqn,
      luns: [{ lun: 1, backingPath: volumePath, thinProvisioning: true }],
    });
    const volume: EmulatedVolume = {
      id,
      compartmentId: details.compartmentId,
      availabilityDomain: details.availabilityDomain,
      displayName: details.displayName,
      sizeBytes,
      path: volumePath,
      tid,
      iqn,
      changedRanges,
      ...this.settling('PROVISIONING', 'AVAILABLE'),
    };
    this.volumes.set(id, volume);
    return volume;
  }

  async deleteVolume(id: string): Promise<EmulatedVolume> {
    const volume = this.poll(this.volumes.get(id), 'volume');
    if (
      [...this.attachments.values()].some(
        (entry) => entry.volumeId === id && entry.lifecycleState !== 'DETACHED',
      )
    )
      throw new OciServiceError(409, 'Conflict', `Volume ${id} is attached.`);
    Object.assign(volume, this.settling('TERMINATING', 'TERMINATED'));
    if (volume.tid !== null) await this.tgtd.removeTarget(volume.tid);
    await rm(volume.path, { force: true });
    return volume;
  }

  async attach(instanceId: string, volumeId: string): Promise<EmulatedAttachment> {
    const volume = this.poll(this.volumes.get(volumeId), 'volume');
    if (volume.tid === null || volume.iqn === null || volume.lifecycleState !== 'AVAILABLE')
      throw new OciServiceError(
        409,
        'IncorrectState',
        `Volume ${volumeId} cannot be attached (${volume.lifecycleState}).`,
      );
    const attachment: EmulatedAttachment = {
      id: ocid('volumeattachment'),
      instanceId,
      volumeId,
      tid: volume.tid,
      iqn: volume.iqn,
      chapUsername: `ocid1.instance.${randomBytes(6).toString('hex')}`,
      chapSecret: randomBytes(12).toString('base64url'),
      ...this.settling('ATTACHING', 'ATTACHED'),
    };
    await this.tgtd.bindAccount(volume.tid, {
      username: attachment.chapUsername,
      secret: attachment.chapSecret,
    });
    this.attachments.set(attachment.id, attachment);
    return attachment;
  }

  async detach(id: string): Promise<EmulatedAttachment> {
    const attachment = this.poll(this.attachments.get(id), 'volume attachment');
    Object.assign(attachment, this.settling('DETACHING', 'DETACHED'));
    await this.tgtd.removeAccount(attachment.tid, attachment.chapUsername);
    return attachment;
  }
}

/** Writes the blocks of `second` that differ from `first` into a new sparse file. */
async function writeDelta(
  firstPath: string,
  secondPath: string,
  deltaPath: string,
  sizeBytes: number,
  blockBytes: number,
): Promise<[number, number][]> {
  await createSparseFile(deltaPath, sizeBytes);
  const [first, second, delta] = await Promise.all([
    open(firstPath),
    open(secondPath),
    open(deltaPath, 'r+'),
  ]);
  const ranges: [number, number][] = [];
  try {
    const chunkBytes = Math.max(blockBytes, 1024 * 1024);
    const a = Buffer.alloc(chunkBytes);
    const b = Buffer.alloc(chunkBytes);
    for (let at = 0; at < sizeBytes; at += chunkBytes) {
      const length = Math.min(chunkBytes, sizeBytes - at);
      await first.read(a, 0, length, at);
      await second.read(b, 0, length, at);
      for (let block = 0; block < length; block += blockBytes) {
        const end = Math.min(length, block + blockBytes);
        if (a.subarray(block, end).equals(b.subarray(block, end))) continue;
        await delta.write(b, block, end - block, at + block);
        const last = ranges.at(-1);
        if (last !== undefined && last[1] === at + block) last[1] = at + end;
        else ranges.push([at + block, at + end]);
      }
    }
    await delta.sync();
  } finally {
    await Promise.all([first.close(), second.close(), delta.close()]);
  }
  return ranges;
}

/** Copies the non-zero 4 KiB blocks of `sourcePath` into a new sparse file. */
async function writeNonZeroBlocks(
  sourcePath: string,
  targetPath: string,
  sizeBytes: number,
): Promise<void> {
  await createSparseFile(targetPath, sizeBytes);
  const [source, target] = await Promise.all([open(sourcePath), open(targetPath, 'r+')]);
  try {
    const chunk = Buffer.alloc(1024 * 1024);
    const zero = Buffer.alloc(BLOCK_SCAN_BYTES);
    for (let at = 0; at < sizeBytes; at += chunk.length) {
      const length = Math.min(chunk.length, sizeBytes - at);
      await source.read(chunk, 0, length, at);
      for (let block = 0; block < length; block += BLOCK_SCAN_BYTES) {
        const piece = chunk.subarray(block, Math.min(length, block + BLOCK_SCAN_BYTES));
        if (!piece.equals(zero.subarray(0, piece.length)))
          await target.write(piece, 0, piece.length, at + block);
      }
    }
    await target.sync();
  } finally {
    await Promise.all([source.close(), target.close()]);
  }
}
