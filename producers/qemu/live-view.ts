/**
 * The point-in-time view of a disk of a running QEMU (a VM, or qemu-storage-daemon), made
 * over QMP the way pull-mode incremental backup works (QEMU docs/interop/bitmaps.rst):
 *
 *   blockdev-add       a qcow2 "fleece" node backed by the disk's node
 *   transaction        block-dirty-bitmap-add NEXT
 *                      block-dirty-bitmap-disable BASE           (INCREMENTAL)
 *                      blockdev-backup sync=none disk → fleece   (copy-before-write)
 *   block-export-add   type nbd, node fleece, bitmaps [BASE], read-only
 *
 * All three actions happen at one instant: BASE stops at the point in time the fleece
 * preserves, and NEXT records every write after it. The guest keeps writing; the fleece
 * keeps the old data of what it overwrites. Releasing: block-export-del (hard),
 * block-job-cancel, blockdev-del, then BASE is removed (commit) — or re-enabled with NEXT
 * merged into it and NEXT removed (abort), so no write is ever left unrecorded.
 */
import { randomBytes } from 'node:crypto';
import { rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { SourceError } from '../errors.js';
import { DIRTY_BITMAP_PREFIX } from '../nbd/nbd-constants.js';
import { isOurBitmap, type CyclePlan } from './bitmap-plan.js';
import type { PointInTimeView } from './point-in-time-view.js';
import { QmpError } from './errors.js';
import { createQcow2 } from './qemu-img.js';
import { findBlockNode } from './qmp-block-node.js';
import type { QmpClient } from './qmp-client.js';

/** Runs `work` on a QMP connection of its own (QMP sockets take one client at a time). */
export type QmpSession = <T>(work: (qmp: QmpClient) => Promise<T>) => Promise<T>;

export interface LiveViewOptions {
  readonly session: QmpSession;
  readonly nodeName: string;
  readonly plan: CyclePlan;
  readonly nextBitmap: string;
  readonly granularityBytes: number;
  readonly persistentBitmaps: boolean;
  readonly sizeBytes: number;
  /** Where the fleece file goes: a directory QEMU can write. */
  readonly workDir: string;
  /** The socket of QEMU's NBD server (started on it if QEMU runs none). */
  readonly nbdSocket: string;
  readonly logger: Logger;
}

/** Names of what a view adds to QEMU, so that leftovers of a crash can be found. */
const FLEECE_PREFIX = 'extentlog-fleece-';

type Action = { type: string; data: Record<string, unknown> };

export async function openLiveView(options: LiveViewOptions): Promise<PointInTimeView> {
  const { session, nodeName, plan, nextBitmap, logger } = options;
  const id = randomBytes(6).toString('hex');
  const fleeceNode = `${FLEECE_PREFIX}${id}`;
  const fleeceFile = path.join(options.workDir, `${fleeceNode}.qcow2`);
  const exportName = fleeceNode;

  await session(async (qmp) => {
    await removeLeftovers(qmp, logger);
    const repair: Action[] = [];
    if (plan.base !== null && plan.mergeIntoBase.length > 0) {
      logger.warn(
        { node: nodeName, base: plan.base, merged: plan.mergeIntoBase },
        'qemu source: merging bitmaps of an interrupted cycle back into the committed one',
      );
      repair.push(
        { type: 'block-dirty-bitmap-enable', data: { node: nodeName, name: plan.base } },
        {
          type: 'block-dirty-bitmap-merge',
          data: { node: nodeName, target: plan.base, bitmaps: plan.mergeIntoBase },
        },
      );
    }
    for (const name of plan.remove)
      repair.push({ type: 'block-dirty-bitmap-remove', data: { node: nodeName, name } });
    if (repair.length > 0) await qmp.execute('transaction', { actions: repair });

    await createQcow2(fleeceFile, options.sizeBytes);
    await qmp.execute('blockdev-add', {
      driver: 'qcow2',
      'node-name': fleeceNode,
      file: { driver: 'file', filename: fleeceFile },
      backing: nodeName,
    });
    try {
      await qmp.execute('transaction', {
        actions: [
          {
            type: 'block-dirty-bitmap-add',
            data: {
              node: nodeName,
              name: nextBitmap,
              granularity: options.granularityBytes,
              persistent: options.persistentBitmaps,
            },
          },
          ...(plan.base === null
            ? []
            : [{ type: 'block-dirty-bitmap-disable', data: { node: nodeName, name: plan.base } }]),
          {
            type: 'blockdev-backup',
            data: { 'job-id': fleeceNode, device: nodeName, target: fleeceNode, sync: 'none' },
          },
        ],
      });
      await ensureNbdServer(qmp, options.nbdSocket);
      await qmp.execute('block-export-add', {
        type: 'nbd',
        id: exportName,
        'node-name': fleeceNode,
        name: exportName,
        writable: false,
        ...(plan.base === null ? {} : { bitmaps: [plan.base] }),
      });
    } catch (error) {
      await teardown(qmp, fleeceNode).catch(() => undefined);
      await undoRotation(qmp, nodeName, plan.base, nextBitmap).catch(() => undefined);
      await rm(fleeceFile, { force: true });
      throw error;
    }
  });

  let released = false;
  const release = async (qmp: QmpClient) => {
    if (released) return;
    released = true;
    await teardown(qmp, fleeceNode);
    await rm(fleeceFile, { force: true });
  };
  return {
    address: { socketPath: options.nbdSocket },
    exportName,
    sizeBytes: options.sizeBytes,
    dirtyContext: plan.base === null ? null : `${DIRTY_BITMAP_PREFIX}${plan.base}`,
    commit: () =>
      session(async (qmp) => {
        await release(qmp);
        const node = await findBlockNode(qmp, nodeName);
        const stale = node.bitmaps.filter(
          (bitmap) => isOurBitmap(bitmap.name) && bitmap.name !== nextBitmap,
        );
        if (stale.length > 0)
          await qmp.execute('transaction', {
            actions: stale.map((bitmap) => ({
              type: 'block-dirty-bitmap-remove',
              data: { node: nodeName, name: bitmap.name },
            })),
          });
      }),
    abort: () =>
      session(async (qmp) => {
        await release(qmp);
        await undoRotation(qmp, nodeName, plan.base, nextBitmap);
      }),
  };
}

/** The old bitmap records again and holds what the new one recorded; the new one goes. */
async function undoRotation(
  qmp: QmpClient,
  nodeName: string,
  base: string | null,
  next: string,
): Promise<void> {
  const actions: Action[] =
    base === null
      ? []
      : [
          { type: 'block-dirty-bitmap-enable', data: { node: nodeName, name: base } },
          {
            type: 'block-dirty-bitmap-merge',
            data: { node: nodeName, target: base, bitmaps: [next] },
          },
        ];
  actions.push({ type: 'block-dirty-bitmap-remove', data: { node: nodeName, name: next } });
  await qmp.execute('transaction', { actions });
}

/** Starts QEMU's NBD server on `socketPath` unless it already runs one there. */
async function ensureNbdServer(qmp: QmpClient, socketPath: string): Promise<void> {
  try {
    await qmp.execute('nbd-server-start', { addr: { type: 'unix', data: { path: socketPath } } });
  } catch (error) {
    if (!(error instanceof QmpError && /already running/i.test(error.message))) throw error;
    const listening = await stat(socketPath).then(
      (stats) => stats.isSocket(),
      () => false,
    );
    if (!listening)
      throw new SourceError(
        'EXTENTLOG_ERR_SOURCE_CONFIG',
        `QEMU at ${qmp.socketPath} already runs an NBD server, and not on ${socketPath}: set the disk's nbdSocket to the unix socket of QEMU's NBD server`,
        { cause: error, details: { socketPath: qmp.socketPath, nbdSocket: socketPath } },
      );
  }
}

/** Removes the export, the backup job and the fleece node of a view (each if present). */
async function teardown(qmp: QmpClient, fleeceNode: string): Promise<void> {
  const exports = await qmp.execute<{ id: string }[]>('query-block-exports');
  if (exports.some((entry) => entry.id === fleeceNode)) {
    const deleted = qmp.nextEvent('BLOCK_EXPORT_DELETED', (data) => data.id === fleeceNode);
    await qmp.execute('block-export-del', { id: fleeceNode, mode: 'hard' });
    await deleted;
  }
  const jobs = await qmp.execute<{ id: string; status: string }[]>('query-jobs');
  const job = jobs.find((entry) => entry.id === fleeceNode);
  if (job !== undefined) {
    const gone = qmp.nextEvent(
      'JOB_STATUS_CHANGE',
      (data) => data.id === fleeceNode && data.status === 'null',
    );
    if (job.status === 'concluded') await qmp.execute('job-dismiss', { id: fleeceNode });
    else await qmp.execute('block-job-cancel', { device: fleeceNode, force: true });
    await gone;
  }
  const nodes = await qmp.execute<{ 'node-name': string }[]>('query-named-block-nodes', {
    flat: true,
  });
  if (nodes.some((node) => node['node-name'] === fleeceNode))
    await qmp.execute('blockdev-del', { 'node-name': fleeceNode });
}

/** Views left in QEMU by a process that died mid-cycle. */
async function removeLeftovers(qmp: QmpClient, logger: Logger): Promise<void> {
  const nodes = await qmp.execute<{ 'node-name': string; image: { filename: string } }[]>(
    'query-named-block-nodes',
    { flat: true },
  );
  for (const node of nodes) {
    const name = node['node-name'];
    if (!name.startsWith(FLEECE_PREFIX)) continue;
    logger.warn({ node: name }, 'qemu source: removing the fleecing node of an interrupted cycle');
    await teardown(qmp, name);
    await rm(node.image.filename, { force: true });
  }
}
