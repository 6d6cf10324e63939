/**
 * Volume group backups shared by the disks of a group. One CreateVolumeGroupBackup takes a
 * crash-consistent backup of every volume of the group at once; each disk's next cycle uses
 * its volume's backup from the latest group backup it has not used yet, and the first disk
 * to have used it already starts the next round. Disks opened together share one round.
 */
import type { Logger } from 'pino';
import { SourceError } from '../errors.js';
import type { OciClient, VolumeBackup } from './oci-client.js';

interface Round {
  readonly groupBackupId: string;
  readonly timeCreatedMs: number;
  /** volume OCID → its backup in this round. */
  readonly backups: ReadonlyMap<string, VolumeBackup>;
}

export interface RoundBackup {
  readonly groupBackupId: string;
  readonly backup: VolumeBackup;
  readonly timeCreatedMs: number;
}

export class GroupBackupRounds {
  private current: Promise<Round> | null = null;
  private used = new Set<string>();
  private rounds = 0;

  constructor(
    private readonly client: OciClient,
    private readonly volumeGroupId: string,
    private readonly logger: Logger,
  ) {}

  /** The backup of `volumeId` in a group backup `diskId` has not used yet. */
  async backupFor(diskId: string, volumeId: string): Promise<RoundBackup> {
    if (this.current === null || this.used.has(diskId)) {
      this.current = this.create();
      this.used = new Set();
    }
    this.used.add(diskId);
    const pending = this.current;
    let round: Round;
    try {
      round = await pending;
    } catch (error) {
      if (this.current === pending) this.current = null;
      throw error;
    }
    const backup = round.backups.get(volumeId);
    if (backup === undefined)
      throw new SourceError(
        'EXTENTLOG_ERR_SOURCE_CONFIG',
        `oci source: volume ${volumeId} (disk ${diskId}) is not in volume group ${this.volumeGroupId}: group backup ${round.groupBackupId} has no backup of it`,
        { details: { diskId, volumeId, groupBackupId: round.groupBackupId } },
      );
    return { groupBackupId: round.groupBackupId, backup, timeCreatedMs: round.timeCreatedMs };
  }

  private async create(): Promise<Round> {
    this.rounds += 1;
    const created = await this.client.createVolumeGroupBackup({
      volumeGroupId: this.volumeGroupId,
      displayName: `extentlog-${new Date().toISOString()}-${this.rounds}`,
      type: 'INCREMENTAL',
    });
    if (created.workRequestId !== null)
      await this.client.waitForWorkRequest('volume group backup', created.workRequestId);
    const groupBackup = await this.client.waitForState(
      'volume group backup',
      () => this.client.getVolumeGroupBackup(created.body.id),
      ['AVAILABLE'],
    );
    const backups = new Map<string, VolumeBackup>();
    for (const id of groupBackup.volumeBackupIds) {
      const backup = await this.client.waitForState(
        'volume backup',
        () => this.client.getVolumeBackup(id),
        ['AVAILABLE'],
      );
      backups.set(backup.volumeId, backup);
    }
    const timeCreatedMs = Date.parse(groupBackup.timeCreated ?? '') || Date.now();
    this.logger.info(
      { volumeGroupId: this.volumeGroupId, groupBackupId: groupBackup.id, volumes: backups.size },
      'oci source: volume group backup available',
    );
    return { groupBackupId: groupBackup.id, timeCreatedMs, backups };
  }
}
