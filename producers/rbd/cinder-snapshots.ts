/**
 * Snapshots through OpenStack: the volumes attached to the configured Nova servers, a
 * Cinder snapshot per volume and cycle (`force: true`, as attached volumes are `in-use`),
 * polled until `available`, and deleted through Cinder once a newer one is committed.
 * Cinder's RBD driver (cinder/volume/drivers/rbd.py) keeps volume <id> as image
 * `volume-<id>` in its pool (`rbd_pool`) and snapshot <id> as RBD snapshot `snapshot-<id>`
 * of that image; that is where the source reads.
 */
import { SourceError } from '../errors.js';
import type { OpenStackClient } from './openstack-client.js';
import type { RbdSnapshots, RbdVolume } from './rbd-snapshots.js';

export interface CinderSnapshotsOptions {
  readonly client: OpenStackClient;
  readonly serverIds: readonly string[];
  /** Cinder's `rbd_pool`. */
  readonly pool: string;
  /** How long a snapshot may take to become available (default 10 min). */
  readonly snapshotTimeoutMs?: number;
  /** Between status polls (default 500 ms). */
  readonly pollIntervalMs?: number;
}

const SNAPSHOT_PREFIX = 'snapshot-';
const VOLUME_PREFIX = 'volume-';
/** The Cinder name of every snapshot this source takes. */
const NAME_PREFIX = 'extentlog-';

function volumeIdOf(volume: RbdVolume): string {
  return volume.image.slice(VOLUME_PREFIX.length);
}

export function createCinderSnapshots(options: CinderSnapshotsOptions): RbdSnapshots {
  const { client, pool } = options;
  const timeoutMs = options.snapshotTimeoutMs ?? 600_000;
  const pollIntervalMs = options.pollIntervalMs ?? 500;

  async function waitAvailable(snapshotId: string, volumeId: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const snapshot = await client.snapshot(snapshotId);
      if (snapshot?.status === 'available') return;
      if (snapshot === null || snapshot.status === 'error' || Date.now() > deadline)
        throw new SourceError(
          'EXTENTLOG_ERR_SOURCE_API',
          `Cinder snapshot ${snapshotId} of volume ${volumeId} ${snapshot === null ? 'disappeared' : `is ${snapshot.status}`}${snapshot !== null && snapshot.status !== 'error' ? ` after ${timeoutMs} ms` : ''}, expected available`,
          { details: { snapshotId, volumeId, status: snapshot?.status ?? null } },
        );
      await new Promise((resolve) => setTimeout(resolve, pollIntervalMs));
    }
  }

  return {
    kind: 'cinder',
    async volumes() {
      const volumes: RbdVolume[] = [];
      for (const serverId of options.serverIds)
        for (const attachment of await client.volumeAttachments(serverId))
          volumes.push({
            diskId: attachment.volumeId,
            pool,
            image: `${VOLUME_PREFIX}${attachment.volumeId}`,
          });
      return volumes;
    },
    async create(volume) {
      const volumeId = volumeIdOf(volume);
      const snapshot = await client.createSnapshot(
        volumeId,
        `${NAME_PREFIX}${Math.floor(Date.now() / 1000)}`,
        'extentlog replication point: deleted by extentlog once a newer one is replicated',
      );
      try {
        await waitAvailable(snapshot.id, volumeId);
      } catch (error) {
        await client.deleteSnapshot(snapshot.id).catch(() => undefined);
        throw error;
      }
      return `${SNAPSHOT_PREFIX}${snapshot.id}`;
    },
    async remove(_volume, snapName) {
      await client.deleteSnapshot(snapName.slice(SNAPSHOT_PREFIX.length));
    },
    // Cinder snapshots named by this source (`extentlog-…`), whatever their RBD state.
    async leftovers(volume, _rbdSnapNames, keep) {
      const snapshots = await client.snapshotsOf(volumeIdOf(volume));
      return snapshots
        .filter(
          (snapshot) => snapshot.name.startsWith(NAME_PREFIX) && snapshot.status !== 'deleting',
        )
        .map((snapshot) => `${SNAPSHOT_PREFIX}${snapshot.id}`)
        .filter((name) => !keep.includes(name));
    },
  };
}
