/**
 * An emulator of vSphere changed block tracking, for what vcsim does not implement
 * (QueryChangedDiskAreas answers MethodNotFound there). It is a SOAP proxy in front of
 * vcsim: every request is forwarded, except QueryChangedDiskAreas, which it answers itself
 * in the same SOAP, from real QEMU dirty bitmaps of a VMDK that qemu-storage-daemon runs
 * as the VM's disk (test writes go through its NBD export `rw`, as a guest's would).
 *
 *   ReconfigVM_Task changeTrackingEnabled=true   a CBT epoch starts: a new disk uuid,
 *                                                 bitmap cbt-<uuid>-0 records every write
 *   CreateSnapshot_Task                          freeze k: bitmap cbt-<uuid>-k starts,
 *                                                 cbt-<uuid>-(k-1) stops, a fleecing job
 *                                                 keeps the disk as of now; the snapshot's
 *                                                 disk gets changeId '<uuid>/k' (told to vcsim)
 *                                                 and the frozen disk is exported over NBD
 *                                                 under the snapshot's id
 *   QueryChangedDiskAreas(snapshot k, '<uuid>/m') the union of cbt-<uuid>-m … cbt-<uuid>-(k-1);
 *                        (snapshot k, '*')        the frozen disk's allocated ranges
 *                        another uuid             FileFault (the epoch was reset)
 *   RemoveSnapshot_Task                          the frozen disk is released
 *   ReconfigVM_Task changeTrackingEnabled=false  the epoch ends, its bitmaps go
 *
 * Answers are paged (`pageAreas` areas per DiskChangeInfo) as vSphere pages them.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { scanStatus } from '../../producers/nbd/changed-extents.js';
import { NbdClient } from '../../producers/nbd/nbd-client.js';
import { createQcow2 } from '../../producers/qemu/qemu-img.js';
import { QmpClient } from '../../producers/qemu/qmp-client.js';
import {
  child,
  element,
  moref,
  parseEnvelope,
  soapFault,
  soapResponse,
  text,
  type XmlNode,
} from '../../producers/vmware/soap-xml.js';
import { VimClient } from '../../producers/vmware/vim-client.js';
import { findVirtualMachine, setChangeTracking } from '../../producers/vmware/vsphere-cbt.js';
import type { Cleanup } from '../support/nbd-servers.js';
import { startStorageDaemon, type StorageDaemon } from '../support/qemu-storage-daemon.js';
import { startVcsim } from './vcsim-process.js';

export interface CbtEmulator {
  /** The SDK URL clients use (the proxy). */
  readonly sdkUrl: string;
  readonly vm: string;
  readonly diskKey: number;
  /** qemu-storage-daemon's NBD server: each snapshot's disk is the export named by its id. */
  readonly nbdSocket: string;
  /** A snapshot reader command for the VMware source: nbdkit's nbd plugin on that export. */
  readonly snapshotReaderCommand: string[];
  readonly daemon: StorageDaemon;
  /** The SOAP methods clients called, in order. */
  readonly calls: readonly string[];
  /** Snapshots of the VM that exist in vcsim now. */
  snapshots(): Promise<string[]>;
  /** Resets CBT the way an administrator does: off, then on again. */
  resetChangeTracking(): Promise<void>;
}

interface Freeze {
  readonly node: string;
  readonly file: string;
  readonly uuid: string | null;
  readonly seq: number | null;
  exported: boolean;
}

const DISK_NODE = 'disk0';
const LOGIN = { username: 'user', password: 'pass' };

function formatUuid(bytes: Buffer): string {
  const hex = bytes.toString('hex').match(/../g)!;
  return `${hex.slice(0, 8).join(' ')}-${hex.slice(8, 16).join(' ')}`;
}

export async function startCbtEmulator(
  cleanup: Cleanup,
  options: {
    readonly dir: string;
    readonly vmdk: string;
    readonly capacityBytes: number;
    readonly pageAreas?: number;
  },
): Promise<CbtEmulator> {
  const pageAreas = options.pageAreas ?? 8;
  const vcsim = await startVcsim(cleanup, { diskCapacityBytes: options.capacityBytes });
  const daemon = await startStorageDaemon(cleanup, {
    image: options.vmdk,
    format: 'vmdk',
    dir: options.dir,
    name: 'esx',
  });
  const qmp = await QmpClient.connect(daemon.qmpSocket);
  cleanup(() => qmp.close());
  const admin = await VimClient.connect({ url: vcsim.sdkUrl, ...LOGIN });
  cleanup(() => admin.logout().catch(() => undefined));
  const vmInfo = await findVirtualMachine(admin, 'ha-host_VM0');
  const disk = vmInfo.disks[0]!;
  const calls: string[] = [];
  let chain: { uuid: string; seq: number; bitmaps: string[] } | null = null;
  const freezes = new Map<string, Freeze>();
  const answers = new Map<string, { start: number; length: number }[]>();
  let counter = 0;

  async function startChain(): Promise<void> {
    const uuid = formatUuid(randomBytes(16));
    const bitmap = `cbt-${++counter}-0`;
    await qmp.execute('block-dirty-bitmap-add', { node: DISK_NODE, name: bitmap });
    chain = { uuid, seq: 0, bitmaps: [bitmap] };
  }

  async function endChain(): Promise<void> {
    const ended = chain;
    chain = null;
    if (ended === null) return;
    for (const name of ended.bitmaps)
      await qmp.execute('block-dirty-bitmap-remove', { node: DISK_NODE, name });
  }

  async function freeze(): Promise<Freeze> {
    const node = `fleece-${++counter}`;
    const file = path.join(options.dir, `${node}.qcow2`);
    await createQcow2(file, options.capacityBytes);
    await qmp.execute('blockdev-add', {
      driver: 'qcow2',
      'node-name': node,
      file: { driver: 'file', filename: file },
      backing: DISK_NODE,
    });
    const actions: { type: string; data: Record<string, unknown> }[] = [];
    let seq: number | null = null;
    const current = chain;
    if (current !== null) {
      seq = current.seq + 1;
      const bitmap = `cbt-${++counter}-${seq}`;
      actions.push(
        { type: 'block-dirty-bitmap-add', data: { node: DISK_NODE, name: bitmap } },
        {
          type: 'block-dirty-bitmap-disable',
          data: { node: DISK_NODE, name: current.bitmaps[current.seq]! },
        },
      );
      current.bitmaps.push(bitmap);
      current.seq = seq;
    }
    actions.push({
      type: 'blockdev-backup',
      data: { 'job-id': node, device: DISK_NODE, target: node, sync: 'none' },
    });
    await qmp.execute('transaction', { actions });
    return { node, file, uuid: current?.uuid ?? null, seq, exported: false };
  }

  async function release(frozen: Freeze, exportName: string): Promise<void> {
    if (frozen.exported) {
      const deleted = qmp.nextEvent('BLOCK_EXPORT_DELETED', (data) => data.id === exportName);
      await qmp.execute('block-export-del', { id: exportName, mode: 'hard' });
      await deleted;
    }
    const gone = qmp.nextEvent(
      'JOB_STATUS_CHANGE',
      (data) => data.id === frozen.node && data.status === 'null',
    );
    await qmp.execute('block-job-cancel', { device: frozen.node, force: true });
    await gone;
    await qmp.execute('blockdev-del', { 'node-name': frozen.node });
    await rm(frozen.file, { force: true });
  }

  /** Ranges of the snapshot's disk that `changeId` asks for. */
  async function changedAreas(snapshot: string, frozen: Freeze, changeId: string) {
    const key = `${snapshot} ${changeId}`;
    const known = answers.get(key);
    if (known !== undefined) return known;
    let areas: { start: number; length: number }[];
    if (changeId === '*') {
      areas = await statusRanges(snapshot, ['base:allocation'], (flags) => (flags[0]! & 1) === 0);
    } else {
      const match = /^(.+)\/(\d+)$/.exec(changeId);
      if (match === null) throw fault('InvalidArgument', `changeId ${changeId} is malformed`);
      if (frozen.uuid === null || match[1] !== frozen.uuid || chain?.uuid !== frozen.uuid)
        throw fault(
          'FileFault',
          `Error caused by file ${disk.fileName}`,
          element('file', disk.fileName),
        );
      const from = Number(match[2]);
      if (from > frozen.seq!)
        throw fault('InvalidArgument', `changeId ${changeId} is after the snapshot`);
      const bitmaps = chain.bitmaps.slice(from, frozen.seq!);
      areas = bitmaps.length === 0 ? [] : await dirtyRanges(bitmaps);
    }
    answers.set(key, areas);
    return areas;
  }

  async function statusRanges(
    exportName: string,
    contexts: string[],
    wanted: (flags: readonly number[]) => boolean,
  ) {
    const client = await NbdClient.connect({
      address: { socketPath: daemon.nbdSocket! },
      exportName,
      metaContexts: contexts,
    });
    const ranges: { start: number; length: number }[] = [];
    try {
      for await (const segment of scanStatus(client, contexts, 0, client.sizeBytes)) {
        if (!wanted(segment.flags)) continue;
        const last = ranges.at(-1);
        if (last !== undefined && last.start + last.length === segment.offsetBytes)
          last.length += segment.lengthBytes;
        else ranges.push({ start: segment.offsetBytes, length: segment.lengthBytes });
      }
    } finally {
      await client.close();
    }
    return ranges;
  }

  /** The union of the bitmaps' dirty ranges, through a temporary export that carries them. */
  async function dirtyRanges(bitmaps: string[]) {
    const id = `cbt-query-${++counter}`;
    await qmp.execute('block-export-add', {
      type: 'nbd',
      id,
      'node-name': DISK_NODE,
      name: id,
      writable: false,
      bitmaps,
    });
    try {
      return await statusRanges(
        id,
        bitmaps.map((name) => `qemu:dirty-bitmap:${name}`),
        (flags) => flags.some((flag) => (flag & 1) !== 0),
      );
    } finally {
      const deleted = qmp.nextEvent('BLOCK_EXPORT_DELETED', (data) => data.id === id);
      await qmp.execute('block-export-del', { id, mode: 'hard' });
      await deleted;
    }
  }

  async function queryChangedDiskAreas(request: XmlNode): Promise<string> {
    const snapshot = text(child(request, 'snapshot'));
    const frozen = freezes.get(snapshot);
    if (frozen === undefined)
      throw fault(
        'ManagedObjectNotFound',
        `no snapshot ${snapshot}`,
        `<obj type="VirtualMachineSnapshot">${snapshot}</obj>`,
      );
    if (Number(text(child(request, 'deviceKey'))) !== disk.key)
      throw fault('InvalidArgument', 'deviceKey', element('invalidProperty', 'deviceKey'));
    if (chain === null)
      throw fault(
        'FileFault',
        `Error caused by file ${disk.fileName}`,
        element('file', disk.fileName),
      );
    const startOffset = Number(text(child(request, 'startOffset')));
    const areas = (await changedAreas(snapshot, frozen, text(child(request, 'changeId'))))
      .filter((area) => area.start + area.length > startOffset)
      .map((area) => {
        const start = Math.max(area.start, startOffset);
        return { start, length: area.start + area.length - start };
      });
    const page = areas.slice(0, pageAreas);
    const last = page.at(-1);
    const lengthBytes =
      areas.length > pageAreas && last !== undefined
        ? last.start + last.length - startOffset
        : options.capacityBytes - startOffset;
    return soapResponse(
      'QueryChangedDiskAreas',
      `<returnval>${element('startOffset', startOffset)}${element('length', lengthBytes)}${page
        .map(
          (area) =>
            `<changedArea>${element('start', area.start)}${element('length', area.length)}</changedArea>`,
        )
        .join('')}</returnval>`,
    );
  }

  function forward(
    request: http.IncomingMessage,
    body: Buffer,
  ): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const upstream = http.request(
        vcsim.sdkUrl,
        {
          method: request.method,
          headers: { ...request.headers, host: new URL(vcsim.sdkUrl).host },
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () =>
            resolve({
              status: response.statusCode ?? 502,
              headers: response.headers,
              body: Buffer.concat(chunks),
            }),
          );
        },
      );
      upstream.on('error', reject);
      upstream.end(body);
    });
  }

  function returnedTask(body: Buffer) {
    const envelope = parseEnvelope(body.toString('utf8'));
    const [response] = Object.values(envelope ?? {});
    return moref(child(response, 'returnval'));
  }

  async function setChangeIds(changeId: string): Promise<void> {
    const response = await fetch(new URL('/extentlog/snapshot-change-ids', vcsim.sdkUrl), {
      method: 'POST',
      body: JSON.stringify({ vm: vmInfo.ref.value, changeIds: { [String(disk.key)]: changeId } }),
    });
    if (!response.ok) throw new Error(`vcsim did not take the changeId: HTTP ${response.status}`);
  }

  async function handle(
    request: http.IncomingMessage,
    body: Buffer,
  ): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
    const envelope = parseEnvelope(body.toString('utf8')) ?? {};
    const [method, node] = Object.entries(envelope).find(([key]) => !key.startsWith('@_')) ?? [
      '',
      '',
    ];
    calls.push(method);
    const reply = (xml: string, status = 200) => ({
      status,
      headers: { 'content-type': 'text/xml; charset=utf-8' },
      body: Buffer.from(xml),
    });
    if (method === 'QueryChangedDiskAreas') {
      try {
        return reply(await queryChangedDiskAreas(node));
      } catch (error) {
        if (error instanceof EmulatedFault) return reply(error.xml, 500);
        throw error;
      }
    }
    if (method === 'CreateSnapshot_Task') {
      const frozen = await freeze();
      const response = await forward(request, body);
      const task = returnedTask(response.body);
      if (task !== null) {
        const snapshot = moref(await admin.waitForTask(task, 'snapshot'));
        if (snapshot !== null) {
          if (frozen.seq !== null) await setChangeIds(`${frozen.uuid}/${frozen.seq}`);
          await qmp.execute('block-export-add', {
            type: 'nbd',
            id: snapshot.value,
            'node-name': frozen.node,
            name: snapshot.value,
            writable: false,
          });
          frozen.exported = true;
          freezes.set(snapshot.value, frozen);
        }
      }
      return response;
    }
    const response = await forward(request, body);
    const task = returnedTask(response.body);
    if (method === 'RemoveSnapshot_Task' && task !== null) {
      const snapshot = text(child(node, '_this'));
      await admin.waitForTask(task, 'snapshot removal').catch(() => undefined);
      const frozen = freezes.get(snapshot);
      freezes.delete(snapshot);
      if (frozen !== undefined) await release(frozen, snapshot);
    }
    if (method === 'ReconfigVM_Task' && task !== null) {
      const enabled = text(child(child(node, 'spec'), 'changeTrackingEnabled'));
      await admin.waitForTask(task, 'reconfiguration').catch(() => undefined);
      if (enabled === 'false') await endChain();
      if (enabled === 'true' && chain === null) await startChain();
    }
    return response;
  }

  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      handle(request, Buffer.concat(chunks)).then(
        (answer) => {
          const headers = { ...answer.headers };
          delete headers['content-length'];
          delete headers['transfer-encoding'];
          response.writeHead(answer.status, headers);
          response.end(answer.body);
        },
        (error: unknown) => {
          response.writeHead(500, { 'content-type': 'text/xml; charset=utf-8' });
          response.end(soapFault('SystemError', `emulator: ${String(error)}`));
        },
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup(
    () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(resolve);
      }),
  );
  cleanup(async () => {
    for (const [snapshot, frozen] of freezes)
      await release(frozen, snapshot).catch(() => undefined);
  });
  const { port } = server.address() as { port: number };
  const sdkUrl = `http://127.0.0.1:${port}/sdk`;
  return {
    sdkUrl,
    vm: vmInfo.ref.value,
    diskKey: disk.key,
    nbdSocket: daemon.nbdSocket!,
    snapshotReaderCommand: [
      'nbdkit',
      '--exit-with-parent',
      '--foreground',
      '--readonly',
      '--unix',
      '{socket}',
      'nbd',
      `socket=${daemon.nbdSocket!}`,
      'export={snapshot}',
    ],
    daemon,
    calls,
    async snapshots() {
      const { properties } = await admin.objectProperties(vmInfo.ref, ['snapshot']);
      const tree = properties.get('snapshot');
      return tree === undefined
        ? []
        : [
            ...new Set(
              [...JSON.stringify(tree).matchAll(/snapshot-\d+/g)].map((match) => match[0]),
            ),
          ];
    },
    async resetChangeTracking() {
      const client = await VimClient.connect({ url: sdkUrl, ...LOGIN });
      try {
        await setChangeTracking(client, vmInfo.ref, false);
        await setChangeTracking(client, vmInfo.ref, true);
      } finally {
        await client.logout();
      }
    },
  };
}

class EmulatedFault extends Error {
  constructor(readonly xml: string) {
    super('fault');
  }
}

function fault(faultType: string, message: string, detail = ''): EmulatedFault {
  return new EmulatedFault(soapFault(faultType, message, detail));
}
