/**
 * The QEMU/KVM source: change tracking with persistent dirty bitmaps (QEMU
 * docs/interop/bitmaps.rst), data read over NBD (`qemu:dirty-bitmap:NAME` and
 * `base:allocation` block status, docs/interop/nbd.rst). Each disk is either
 *
 * - an `image`: a qcow2 file no VM is running — bitmaps via `qemu-img bitmap`, the image
 *   served read-only by qemu-nbd for the cycle (image-view.ts); or
 * - a `node` of a running QEMU reached on its `qmpSocket` — a VM or qemu-storage-daemon;
 *   bitmaps and a fleecing export via QMP (live-view.ts).
 *
 * The cycle's reference is its new bitmap (`qemu-bitmap:<name>@<size>`); bitmap-plan.ts
 * decides INCREMENTAL or a FULL re-baseline (lost, inconsistent or disabled bitmap, shrunk
 * disk) and says why.
 */
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { ConfiguredDisks, isPowerOfTwoWithin } from '../configured-disks.js';
import { SourceError } from '../errors.js';
import type { ChangeSet, ChangeSource, CommittedReference, DiskInfo } from '../source.js';
import { bitmapReference, newBitmapName, planCycle } from './bitmap-plan.js';
import { openImageView, startQemuNbdExport, type StartImageExport } from './image-view.js';
import { openLiveView, type QmpSession } from './live-view.js';
import type { PointInTimeView } from './point-in-time-view.js';
import { openQemuCycle } from './qemu-cycle.js';
import { imageInfo } from './qemu-img.js';
import { findBlockNode } from './qmp-block-node.js';
import { QmpClient } from './qmp-client.js';

export type QemuDiskConfig =
  | { readonly diskId: string; readonly image: string }
  | {
      readonly diskId: string;
      readonly qmpSocket: string;
      /** A block node-name, or a device / qdev id. */
      readonly node: string;
      /** QEMU's NBD server socket (started there if QEMU runs none). */
      readonly nbdSocket?: string;
    };

export interface QemuSourceOptions {
  readonly disks: readonly QemuDiskConfig[];
  /** Sockets of qemu-nbd and fleecing files (must be writable by QEMU for live disks). */
  readonly workDir: string;
  /** Bitmap granularity, also the disks' block size: a power of two, 64 KiB by default. */
  readonly bitmapGranularityBytes?: number;
  /** Live disks: whether new bitmaps survive a restart of QEMU (needs qcow2). */
  readonly persistentBitmaps?: boolean;
  /** NBD connections per cycle (used when the export allows several). */
  readonly nbdConnections?: number;
  readonly maxRequestBytes?: number;
  /** Serves offline images over NBD; qemu-nbd by default. */
  readonly startImageExport?: StartImageExport;
  readonly logger: Logger;
}

const KiB = 1024;
const MiB = 1024 * KiB;

function configError(message: string): SourceError {
  return new SourceError('EXTENTLOG_ERR_SOURCE_CONFIG', `qemu source: ${message}`);
}

function validate(options: QemuSourceOptions) {
  const granularityBytes = options.bitmapGranularityBytes ?? 64 * KiB;
  if (!isPowerOfTwoWithin(granularityBytes, 512, 64 * MiB))
    throw configError(
      `bitmapGranularityBytes must be a power of two from 512 to 67108864, received ${granularityBytes}`,
    );
  if (options.disks.length === 0) throw configError('disks must name at least one disk');
  const byId = new Map<string, QemuDiskConfig>();
  for (const disk of options.disks) {
    if (disk.diskId === '') throw configError('every disk needs a non-empty diskId');
    if (byId.has(disk.diskId)) throw configError(`disk id ${disk.diskId} is configured twice`);
    if ('image' in disk ? disk.image === '' : disk.qmpSocket === '' || disk.node === '')
      throw configError(`disk ${disk.diskId} needs an image, or a qmpSocket and a node`);
    byId.set(disk.diskId, disk);
  }
  return {
    granularityBytes,
    persistentBitmaps: options.persistentBitmaps ?? true,
    nbdConnections: options.nbdConnections ?? 4,
    maxRequestBytes: options.maxRequestBytes ?? 256 * KiB,
    startImageExport: options.startImageExport ?? startQemuNbdExport,
    byId,
  };
}

/** One QMP connection at a time per socket: QEMU's monitor serves one client. */
function qmpSessions(): (socketPath: string) => QmpSession {
  const queues = new Map<string, Promise<unknown>>();
  return (socketPath) =>
    async <T>(work: (qmp: QmpClient) => Promise<T>): Promise<T> => {
      const previous = queues.get(socketPath) ?? Promise.resolve();
      const run = previous
        .catch(() => undefined)
        .then(async () => {
          const qmp = await QmpClient.connect(socketPath);
          try {
            return await work(qmp);
          } finally {
            await qmp.close();
          }
        });
      queues.set(socketPath, run);
      return run;
    };
}

export function createQemuSource(options: QemuSourceOptions): ChangeSource {
  const settings = validate(options);
  const { byId, granularityBytes } = settings;
  const { logger, workDir } = options;
  const session = qmpSessions();
  const openCycles = new Set<ChangeSet>();

  const configured = new ConfiguredDisks('qemu', byId);
  const configOf = (diskId: string): QemuDiskConfig => configured.get(diskId);

  async function sizeOf(config: QemuDiskConfig): Promise<number> {
    if ('image' in config) return (await imageInfo(config.image)).virtualSizeBytes;
    return session(config.qmpSocket)(
      async (qmp) => (await findBlockNode(qmp, config.node)).sizeBytes,
    );
  }

  async function openView(
    config: QemuDiskConfig,
    since: CommittedReference | null,
    nextBitmap: string,
  ) {
    if ('image' in config) {
      const info = await imageInfo(config.image);
      if (info.format !== 'qcow2')
        throw configError(
          `disk ${config.diskId}: ${config.image} is ${info.format}; persistent dirty bitmaps need qcow2 (convert it, or run it in QEMU and use qmpSocket)`,
        );
      const plan = planCycle({
        since,
        bitmaps: info.bitmaps,
        sizeBytes: info.virtualSizeBytes,
        where: `image ${config.image}`,
      });
      const view = await openImageView({
        image: config.image,
        plan,
        nextBitmap,
        granularityBytes,
        sizeBytes: info.virtualSizeBytes,
        workDir,
        startExport: settings.startImageExport,
        logger,
      });
      return { plan, view };
    }
    const qmpSession = session(config.qmpSocket);
    const node = await qmpSession((qmp) => findBlockNode(qmp, config.node));
    const plan = planCycle({
      since,
      bitmaps: node.bitmaps,
      sizeBytes: node.sizeBytes,
      where: `node ${node.nodeName} of ${config.qmpSocket}`,
    });
    const view: PointInTimeView = await openLiveView({
      session: qmpSession,
      nodeName: node.nodeName,
      plan,
      nextBitmap,
      granularityBytes,
      persistentBitmaps: settings.persistentBitmaps,
      sizeBytes: node.sizeBytes,
      workDir,
      nbdSocket: config.nbdSocket ?? path.join(workDir, `${node.nodeName}-nbd.sock`),
      logger,
    });
    return { plan, view };
  }

  async function open(requested: DiskInfo, since: CommittedReference | null): Promise<ChangeSet> {
    const config = configOf(requested.diskId);
    await mkdir(workDir, { recursive: true });
    const nextBitmap = newBitmapName(Date.now(), randomBytes(4).toString('hex'));
    const { plan, view } = await openView(config, since, nextBitmap);
    const reference = bitmapReference(nextBitmap, view.sizeBytes);
    const log = {
      diskId: config.diskId,
      mode: plan.mode,
      reference,
      ...(plan.rebaselineReason === undefined ? {} : { rebaselineReason: plan.rebaselineReason }),
    };
    if (plan.rebaselineReason !== undefined) logger.warn(log, 'qemu source: re-baseline');
    else logger.info(log, 'qemu source: cycle opened');
    const cycle: ChangeSet = await openQemuCycle({
      diskId: config.diskId,
      blockSizeBytes: granularityBytes,
      view,
      reference,
      baseReference: plan.mode === 'INCREMENTAL' ? (since?.reference ?? null) : null,
      ...(plan.rebaselineReason === undefined ? {} : { rebaselineReason: plan.rebaselineReason }),
      snapshotId: nextBitmap,
      nbdConnections: settings.nbdConnections,
      maxRequestBytes: settings.maxRequestBytes,
      logger,
      onSettled: () => openCycles.delete(cycle),
    });
    openCycles.add(cycle);
    return cycle;
  }

  return {
    kind: 'qemu',
    async disks() {
      const infos: DiskInfo[] = [];
      for (const config of byId.values())
        infos.push({
          diskId: config.diskId,
          sizeBytes: await sizeOf(config),
          blockSizeBytes: granularityBytes,
        });
      return infos;
    },
    open,
    async close() {
      await Promise.allSettled([...openCycles].map((cycle) => cycle.abort('source closed')));
    },
  };
}
