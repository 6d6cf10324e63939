/**
 * The point-in-time view of a qcow2 image no VM is running: persistent dirty bitmaps
 * rotated with `qemu-img bitmap`, the image exported read-only by qemu-nbd with the old
 * bitmap (`qemu-nbd --read-only --bitmap NAME`, which offers `qemu:dirty-bitmap:NAME`).
 *
 * The new bitmap is added before qemu-nbd starts and both record until the old one is
 * removed, so a write that slips in between is in both: read by this cycle and again by
 * the next, never lost. qemu-nbd holds the image's lock while it runs; the view is released
 * only once its process has exited.
 */
import type { Logger } from 'pino';
import { DIRTY_BITMAP_PREFIX } from '../nbd/nbd-constants.js';
import type { NbdAddress } from '../nbd/nbd-client.js';
import { socketPathIn, startServerProcess } from '../server-process.js';
import { isOurBitmap, type CyclePlan } from './bitmap-plan.js';
import type { PointInTimeView } from './point-in-time-view.js';
import { addBitmap, imageInfo, mergeIntoBitmap, removeBitmap } from './qemu-img.js';

export interface ImageExport {
  readonly address: NbdAddress;
  readonly exportName: string;
  /** Resolves once the server has exited (and released the image). */
  stop(): Promise<void>;
}

export interface ImageExportRequest {
  readonly image: string;
  readonly format: string;
  /** The bitmap to offer as qemu:dirty-bitmap:NAME, or null. */
  readonly bitmap: string | null;
  readonly workDir: string;
}

/** Serves an image read-only over NBD for one cycle. */
export type StartImageExport = (request: ImageExportRequest) => Promise<ImageExport>;

/** qemu-nbd on a unix socket in `workDir`, several clients allowed, until stopped. */
export const startQemuNbdExport: StartImageExport = async (request) => {
  const socketPath = socketPathIn(request.workDir, 'qemu-nbd');
  const exportName = 'extentlog';
  const args = [
    '--read-only',
    '--format',
    request.format,
    '--persistent',
    '--shared=8',
    '--socket',
    socketPath,
    '--export-name',
    exportName,
    ...(request.bitmap === null ? [] : ['--bitmap', request.bitmap]),
    request.image,
  ];
  const server = await startServerProcess({ command: 'qemu-nbd', args, listensOn: socketPath });
  return { address: { socketPath }, exportName, stop: () => server.stop() };
};

export interface ImageViewOptions {
  readonly image: string;
  readonly plan: CyclePlan;
  readonly nextBitmap: string;
  readonly granularityBytes: number;
  readonly sizeBytes: number;
  readonly workDir: string;
  readonly startExport: StartImageExport;
  readonly logger: Logger;
}

export async function openImageView(options: ImageViewOptions): Promise<PointInTimeView> {
  const { image, plan, nextBitmap, logger } = options;
  if (plan.base !== null && plan.mergeIntoBase.length > 0) {
    logger.warn(
      { image, base: plan.base, merged: plan.mergeIntoBase },
      'qemu source: merging bitmaps of an interrupted cycle back into the committed one',
    );
    await mergeIntoBitmap(image, plan.base, plan.mergeIntoBase);
  }
  for (const name of plan.remove) await removeBitmap(image, name);
  await addBitmap(image, nextBitmap, options.granularityBytes);
  let server: ImageExport;
  try {
    server = await options.startExport({
      image,
      format: 'qcow2',
      bitmap: plan.base,
      workDir: options.workDir,
    });
  } catch (error) {
    await removeBitmap(image, nextBitmap).catch(() => undefined);
    throw error;
  }
  let released = false;
  const release = async () => {
    if (released) return;
    released = true;
    await server.stop();
  };
  return {
    address: server.address,
    exportName: server.exportName,
    sizeBytes: options.sizeBytes,
    dirtyContext: plan.base === null ? null : `${DIRTY_BITMAP_PREFIX}${plan.base}`,
    async commit() {
      await release();
      const { bitmaps } = await imageInfo(image);
      for (const bitmap of bitmaps)
        if (isOurBitmap(bitmap.name) && bitmap.name !== nextBitmap)
          await removeBitmap(image, bitmap.name);
    },
    async abort() {
      await release();
      await removeBitmap(image, nextBitmap);
    },
  };
}
