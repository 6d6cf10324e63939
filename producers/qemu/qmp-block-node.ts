/**
 * Finding a disk's block node over QMP and reading its dirty bitmaps. `node` may be a
 * node-name (`query-named-block-nodes`) or a device / qdev id (`query-block`, whose
 * `inserted.node-name` is the disk's top format node, where persistent bitmaps live).
 */
import { SourceError } from '../errors.js';
import type { BitmapState } from './bitmap-plan.js';
import type { QmpClient } from './qmp-client.js';

export interface BlockNode {
  readonly nodeName: string;
  readonly sizeBytes: number;
  readonly format: string;
  readonly bitmaps: readonly BitmapState[];
}

interface QmpBitmap {
  name?: string;
  granularity: number;
  recording: boolean;
  inconsistent?: boolean;
}

interface QmpNamedNode {
  'node-name': string;
  drv: string;
  image: { 'virtual-size': number };
  'dirty-bitmaps'?: QmpBitmap[];
}

interface QmpBlockDevice {
  device: string;
  qdev?: string;
  inserted?: { 'node-name': string };
}

export async function findBlockNode(qmp: QmpClient, node: string): Promise<BlockNode> {
  const nodes = await qmp.execute<QmpNamedNode[]>('query-named-block-nodes', { flat: true });
  let found = nodes.find((entry) => entry['node-name'] === node);
  if (found === undefined) {
    const devices = await qmp.execute<QmpBlockDevice[]>('query-block');
    const device = devices.find((entry) => entry.device === node || entry.qdev === node);
    const nodeName = device?.inserted?.['node-name'];
    if (nodeName !== undefined) found = nodes.find((entry) => entry['node-name'] === nodeName);
  }
  if (found === undefined)
    throw new SourceError(
      'EXTENTLOG_ERR_SOURCE_OPEN',
      `QEMU at ${qmp.socketPath} has no block node or device '${node}' (its nodes: ${nodes
        .map((entry) => entry['node-name'])
        .filter((name) => !name.startsWith('#'))
        .join(', ')})`,
      { details: { socketPath: qmp.socketPath, node } },
    );
  return {
    nodeName: found['node-name'],
    sizeBytes: found.image['virtual-size'],
    format: found.drv,
    bitmaps: (found['dirty-bitmaps'] ?? [])
      .filter((bitmap): bitmap is QmpBitmap & { name: string } => bitmap.name !== undefined)
      .map((bitmap) => ({
        name: bitmap.name,
        granularityBytes: bitmap.granularity,
        recording: bitmap.recording,
        inconsistent: bitmap.inconsistent ?? false,
      })),
  };
}
