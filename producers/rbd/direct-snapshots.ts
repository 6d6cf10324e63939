/**
 * RBD snapshots the source takes itself, for pools and images named directly (deployments
 * without OpenStack): `rbd_snap_create` on the image's head, named
 * `extentlog-<unix seconds>-<random>`, and `rbd_snap_remove` once a newer one is committed.
 */
import { randomBytes } from 'node:crypto';
import { errnoOf } from '../../native/errors.js';
import type { RbdCluster } from '../../native/rbd/index.js';
import type { RbdSnapshots, RbdVolume } from './rbd-snapshots.js';

const PREFIX = 'extentlog-';

export function createDirectSnapshots(
  volumes: readonly RbdVolume[],
  cluster: () => Promise<RbdCluster>,
): RbdSnapshots {
  async function onHead<T>(
    volume: RbdVolume,
    run: (head: Awaited<ReturnType<RbdCluster['openImage']>>) => Promise<T>,
  ) {
    const head = await (await cluster()).openImage(volume.pool, volume.image, { readOnly: false });
    try {
      return await run(head);
    } finally {
      await head.close();
    }
  }
  return {
    kind: 'rbd',
    volumes: async () => volumes,
    async create(volume) {
      const snapName = `${PREFIX}${Math.floor(Date.now() / 1000)}-${randomBytes(4).toString('hex')}`;
      await onHead(volume, (head) => head.createSnapshot(snapName));
      return snapName;
    },
    async remove(volume, snapName) {
      await onHead(volume, (head) =>
        head.removeSnapshot(snapName).catch((error: unknown) => {
          if (errnoOf(error) !== 'ENOENT') throw error;
        }),
      );
    },
    leftovers: async (_volume, rbdSnapNames, keep) =>
      rbdSnapNames.filter((name) => name.startsWith(PREFIX) && !keep.includes(name)),
  };
}
