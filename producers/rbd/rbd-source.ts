/**
 * The RBD source: agentless change capture for Ceph RBD images, directly or behind OpenStack
 * Cinder. Each cycle takes a snapshot (rbd-snapshots.ts), diffs it against the snapshot of
 * the last committed cycle with `rbd_diff_iterate2` (librbd, whole-object mode off), and
 * reads the changed extents from the snapshot over the Ceph network with `rbd_aio_read`;
 * ranges librbd reports as not existing (discarded, zeroed) become ZERO. The first cycle,
 * and any cycle whose base snapshot is gone or whose image was resized since, is FULL (from
 * the image's creation; unallocated ranges are ZERO) with the reason in `rebaselineReason`.
 *
 * The reference of a cycle is its snapshot, `rbd:<pool>/<image>@<snap>`. `commit()` (the
 * SyncCommit is durable) removes the previous snapshot and keeps the new one; `abort()`
 * removes the new one and keeps the previous. Leftovers of crashed cycles that the provider
 * recognises as its own are removed when the next cycle opens.
 */
import { isPowerOfTwoWithin } from '../configured-disks.js';
import type { Logger } from 'pino';
import type { RbdImage } from '../../native/rbd/index.js';
import { SourceError } from '../errors.js';
import type { ChangeSet, ChangeSource, CommittedReference, DiskInfo } from '../source.js';
import type { CephConnection } from './ceph-connection.js';
import { createRbdCycle, type RbdBase } from './rbd-cycle.js';
import { parseReference, type RbdSnapshots, type RbdVolume } from './rbd-snapshots.js';

export interface RbdSourceOptions {
  readonly connection: CephConnection;
  readonly snapshots: RbdSnapshots;
  /** Extents are aligned to this; a power of two from 512 bytes to 1 MiB (default 4096). */
  readonly blockSizeBytes?: number;
  readonly logger: Logger;
}

async function chooseBase(
  image: RbdImage,
  volume: RbdVolume,
  snapName: string,
  sizeBytes: number,
  since: CommittedReference | null,
): Promise<RbdBase> {
  if (since === null) return { mode: 'FULL', fromSnap: null, previousSnap: null };
  const previous = parseReference(since.reference);
  if (previous === null || previous.pool !== volume.pool || previous.image !== volume.image)
    return {
      mode: 'FULL',
      fromSnap: null,
      previousSnap: null,
      rebaselineReason: `the committed reference ${since.reference} is not a snapshot of ${volume.pool}/${volume.image}`,
    };
  const base = (await image.snapshots()).find((snap) => snap.name === previous.snapName);
  if (base === undefined)
    return {
      mode: 'FULL',
      fromSnap: null,
      previousSnap: null,
      rebaselineReason: `the snapshot of the last committed cycle, ${volume.pool}/${volume.image}@${previous.snapName}, no longer exists`,
    };
  if (base.sizeBytes !== sizeBytes)
    return {
      mode: 'FULL',
      fromSnap: null,
      previousSnap: base.name,
      rebaselineReason: `${volume.pool}/${volume.image} was resized from ${base.sizeBytes} to ${sizeBytes} bytes since ${base.name}`,
    };
  if (base.name === snapName)
    throw new SourceError(
      'EXTENTLOG_ERR_SOURCE_CYCLE',
      `${volume.pool}/${volume.image}: the new snapshot ${snapName} is the committed one`,
    );
  return { mode: 'INCREMENTAL', fromSnap: base.name, previousSnap: base.name };
}

export function createRbdSource(options: RbdSourceOptions): ChangeSource {
  const { connection, snapshots, logger } = options;
  const blockSizeBytes = options.blockSizeBytes ?? 4096;
  if (!isPowerOfTwoWithin(blockSizeBytes, 512, 1024 * 1024))
    throw new SourceError(
      'EXTENTLOG_ERR_SOURCE_CONFIG',
      `rbd source: blockSizeBytes must be a power of two from 512 to 1048576, received ${blockSizeBytes}`,
    );
  const openCycles = new Set<ChangeSet>();
  let known: Map<string, RbdVolume> | null = null;

  async function volumes(): Promise<Map<string, RbdVolume>> {
    known = new Map((await snapshots.volumes()).map((volume) => [volume.diskId, volume]));
    return known;
  }

  async function volumeOf(diskId: string): Promise<RbdVolume> {
    const volume = (known ?? (await volumes())).get(diskId) ?? (await volumes()).get(diskId);
    if (volume === undefined)
      throw new SourceError(
        'EXTENTLOG_ERR_SOURCE_UNKNOWN_DISK',
        `rbd source: no volume ${diskId} (${snapshots.kind}); known: ${[...(known?.keys() ?? [])].join(', ') || 'none'}`,
        { details: { diskId } },
      );
    return volume;
  }

  async function openImage(volume: RbdVolume, snapName?: string): Promise<RbdImage> {
    const cluster = await connection.cluster();
    try {
      return await cluster.openImage(
        volume.pool,
        volume.image,
        snapName === undefined ? { readOnly: true } : { snapName },
      );
    } catch (error) {
      throw new SourceError(
        'EXTENTLOG_ERR_SOURCE_OPEN',
        `rbd source: could not open ${volume.pool}/${volume.image}${snapName === undefined ? '' : `@${snapName}`} of disk ${volume.diskId}: ${(error as Error).message}`,
        { cause: error, details: { diskId: volume.diskId } },
      );
    }
  }

  async function removeQuietly(volume: RbdVolume, snapName: string, why: string) {
    try {
      await snapshots.remove(volume, snapName);
    } catch (error) {
      logger.warn(
        { diskId: volume.diskId, snapName, err: error },
        `rbd source: could not remove ${why} snapshot; remove it by hand`,
      );
    }
  }

  async function open(requested: DiskInfo, since: CommittedReference | null): Promise<ChangeSet> {
    const volume = await volumeOf(requested.diskId);
    const snapName = await snapshots.create(volume);
    let image: RbdImage | null = null;
    try {
      image = await openImage(volume, snapName);
      const { sizeBytes } = await image.stat();
      const base = await chooseBase(image, volume, snapName, sizeBytes, since);
      const rbdSnapNames = (await image.snapshots()).map((snap) => snap.name);
      const keep = [snapName, ...(base.previousSnap === null ? [] : [base.previousSnap])];
      const leftovers = await snapshots
        .leftovers(volume, rbdSnapNames, keep)
        .catch((error: unknown) => {
          logger.warn(
            { diskId: volume.diskId, err: error },
            'rbd source: could not list leftovers',
          );
          return [];
        });
      for (const leftover of leftovers) await removeQuietly(volume, leftover, 'a leftover');
      const disk: DiskInfo = { diskId: volume.diskId, sizeBytes, blockSizeBytes };
      logger.info(
        {
          diskId: disk.diskId,
          mode: base.mode,
          snapName,
          fromSnap: base.fromSnap,
          rebaselineReason: base.rebaselineReason,
        },
        'rbd source: cycle opened',
      );
      const cycle: ChangeSet = createRbdCycle({
        disk,
        volume,
        image,
        snapName,
        base,
        removeSnapshot: (name, why) => removeQuietly(volume, name, why),
        logger,
        onSettled: () => openCycles.delete(cycle),
      });
      openCycles.add(cycle);
      return cycle;
    } catch (error) {
      await image?.close().catch(() => undefined);
      await removeQuietly(volume, snapName, 'an unopened cycle’s');
      throw error;
    }
  }

  return {
    kind: 'rbd',
    async disks() {
      const infos: DiskInfo[] = [];
      for (const volume of (await volumes()).values()) {
        const image = await openImage(volume);
        try {
          infos.push({
            diskId: volume.diskId,
            sizeBytes: (await image.stat()).sizeBytes,
            blockSizeBytes,
          });
        } finally {
          await image.close();
        }
      }
      return infos;
    },
    open,
    async close() {
      await Promise.allSettled([...openCycles].map((cycle) => cycle.abort('source closed')));
      await connection.close();
    },
  };
}
