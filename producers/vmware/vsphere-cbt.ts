/**
 * The vSphere methods of changed block tracking (vSphere API reference, VirtualMachine):
 * finding a VM and its virtual disks (ViewManager.CreateContainerView and the property
 * collector over `config.hardware.device`: VirtualDisk key, capacityInBytes, backing
 * fileName and changeId), ReconfigVM_Task with `changeTrackingEnabled`,
 * CreateSnapshot_Task, the snapshot's own disks (VirtualMachineSnapshot.config),
 * QueryChangedDiskAreas (DiskChangeInfo: startOffset, length, changedArea[start, length])
 * and RemoveSnapshot_Task.
 */
import { VsphereError } from './errors.js';
import {
  asArray,
  child,
  element,
  moref,
  morefElement,
  text,
  xsiType,
  type ManagedObjectReference,
  type XmlValue,
} from './soap-xml.js';
import type { VimClient } from './vim-client.js';

export interface VirtualDiskInfo {
  readonly key: number;
  readonly label: string;
  readonly capacityBytes: number;
  /** The backing's datastore path, `[datastore1] vm/vm.vmdk` (what VDDK opens). */
  readonly fileName: string;
  /** The backing's change id (of a snapshot's disk: the point in time it froze). */
  readonly changeId: string | null;
}

export interface VirtualMachineInfo {
  readonly ref: ManagedObjectReference;
  readonly name: string;
  readonly changeTrackingEnabled: boolean;
  readonly disks: readonly VirtualDiskInfo[];
}

/** Changed areas of [startOffset, startOffset + lengthBytes), as QueryChangedDiskAreas returns. */
export interface DiskChangeInfo {
  readonly startOffset: number;
  readonly lengthBytes: number;
  readonly areas: readonly { readonly start: number; readonly length: number }[];
}

const VM_PATHS = ['name', 'config.changeTrackingEnabled', 'config.hardware.device'];

function long(node: XmlValue | undefined): number {
  const value = Number(text(node));
  return Number.isSafeInteger(value) ? value : Number.NaN;
}

export function parseDisks(devices: XmlValue | undefined): VirtualDiskInfo[] {
  const disks: VirtualDiskInfo[] = [];
  for (const device of asArray(child(devices, 'VirtualDevice'))) {
    if (xsiType(device) !== 'VirtualDisk') continue;
    const backing = child(device, 'backing');
    const bytes = long(child(device, 'capacityInBytes'));
    const changeId = text(child(backing, 'changeId'));
    disks.push({
      key: long(child(device, 'key')),
      label: text(child(child(device, 'deviceInfo'), 'label')),
      capacityBytes: Number.isNaN(bytes) ? long(child(device, 'capacityInKB')) * 1024 : bytes,
      fileName: text(child(backing, 'fileName')),
      changeId: changeId === '' ? null : changeId,
    });
  }
  return disks;
}

function vmInfo(
  ref: ManagedObjectReference,
  properties: ReadonlyMap<string, XmlValue>,
): VirtualMachineInfo {
  return {
    ref,
    name: text(properties.get('name')),
    changeTrackingEnabled: text(properties.get('config.changeTrackingEnabled')) === 'true',
    disks: parseDisks(properties.get('config.hardware.device')),
  };
}

/** The VM whose managed object id (vm-42) or name is `vm`. */
export async function findVirtualMachine(
  client: VimClient,
  vm: string,
): Promise<VirtualMachineInfo> {
  const { rootFolder, viewManager } = client.serviceContent;
  const view = moref(
    await client.invoke(
      'CreateContainerView',
      viewManager,
      morefElement('container', rootFolder) +
        element('type', 'VirtualMachine') +
        element('recursive', true),
    ),
  );
  if (view === null)
    throw new VsphereError(
      'EXTENTLOG_ERR_VSPHERE_PROTOCOL',
      `${client.url.origin}: CreateContainerView returned no view`,
    );
  try {
    const objects = await client.retrieveProperties(
      `<propSet>${element('type', 'VirtualMachine')}${element('pathSet', 'name')}</propSet>` +
        `<objectSet>${morefElement('obj', view)}${element('skip', true)}` +
        `<selectSet xsi:type="TraversalSpec">${element('name', 'view')}${element('type', 'ContainerView')}` +
        `${element('path', 'view')}${element('skip', false)}</selectSet></objectSet>`,
    );
    const matches = objects.filter(
      (object) => object.obj.value === vm || text(object.properties.get('name')) === vm,
    );
    const byId = matches.find((object) => object.obj.value === vm);
    const found = byId ?? (matches.length === 1 ? matches[0] : undefined);
    if (found === undefined)
      throw new VsphereError(
        'EXTENTLOG_ERR_VSPHERE_NOT_FOUND',
        matches.length > 1
          ? `${client.url.origin}: ${matches.length} VMs are named '${vm}' (${matches.map((object) => object.obj.value).join(', ')}); configure the VM by its id`
          : `${client.url.origin}: no VM named or with id '${vm}'`,
        { details: { vm } },
      );
    const { properties } = await client.objectProperties(found.obj, VM_PATHS);
    return vmInfo(found.obj, properties);
  } finally {
    await client.invoke('DestroyView', view, '').catch(() => undefined);
  }
}

export async function virtualMachine(
  client: VimClient,
  ref: ManagedObjectReference,
): Promise<VirtualMachineInfo> {
  return vmInfo(ref, (await client.objectProperties(ref, VM_PATHS)).properties);
}

export async function setChangeTracking(
  client: VimClient,
  vm: ManagedObjectReference,
  enabled: boolean,
): Promise<void> {
  const task = moref(
    await client.invoke(
      'ReconfigVM_Task',
      vm,
      `<spec>${element('changeTrackingEnabled', enabled)}</spec>`,
    ),
  );
  if (task === null)
    throw new VsphereError('EXTENTLOG_ERR_VSPHERE_PROTOCOL', 'ReconfigVM_Task returned no task');
  await client.waitForTask(
    task,
    `turning change tracking ${enabled ? 'on' : 'off'} for ${vm.value}`,
  );
}

export async function createSnapshot(
  client: VimClient,
  vm: ManagedObjectReference,
  name: string,
  options: { readonly description: string; readonly quiesce: boolean },
): Promise<ManagedObjectReference> {
  const task = moref(
    await client.invoke(
      'CreateSnapshot_Task',
      vm,
      element('name', name) +
        element('description', options.description) +
        element('memory', false) +
        element('quiesce', options.quiesce),
    ),
  );
  if (task === null)
    throw new VsphereError(
      'EXTENTLOG_ERR_VSPHERE_PROTOCOL',
      'CreateSnapshot_Task returned no task',
    );
  const snapshot = moref(await client.waitForTask(task, `snapshot ${name} of ${vm.value}`));
  if (snapshot === null)
    throw new VsphereError(
      'EXTENTLOG_ERR_VSPHERE_PROTOCOL',
      `snapshot task ${task.value} of ${vm.value} succeeded without naming the snapshot`,
    );
  return snapshot;
}

/** The disks as the snapshot froze them: their changeIds mark its point in time. */
export async function snapshotDisks(
  client: VimClient,
  snapshot: ManagedObjectReference,
): Promise<VirtualDiskInfo[]> {
  const { properties } = await client.objectProperties(snapshot, ['config.hardware.device']);
  return parseDisks(properties.get('config.hardware.device'));
}

export async function queryChangedDiskAreas(
  client: VimClient,
  vm: ManagedObjectReference,
  snapshot: ManagedObjectReference,
  deviceKey: number,
  startOffset: number,
  changeId: string,
): Promise<DiskChangeInfo> {
  const result = await client.invoke(
    'QueryChangedDiskAreas',
    vm,
    morefElement('snapshot', snapshot) +
      element('deviceKey', deviceKey) +
      element('startOffset', startOffset) +
      element('changeId', changeId),
  );
  const info: DiskChangeInfo = {
    startOffset: long(child(result, 'startOffset')),
    lengthBytes: long(child(result, 'length')),
    areas: asArray(child(result, 'changedArea')).map((area) => ({
      start: long(child(area, 'start')),
      length: long(child(area, 'length')),
    })),
  };
  if (
    Number.isNaN(info.startOffset) ||
    Number.isNaN(info.lengthBytes) ||
    info.areas.some((area) => Number.isNaN(area.start) || Number.isNaN(area.length))
  )
    throw new VsphereError(
      'EXTENTLOG_ERR_VSPHERE_PROTOCOL',
      `${client.url.origin}: QueryChangedDiskAreas of disk ${deviceKey} returned a DiskChangeInfo without numbers`,
    );
  return info;
}

export async function removeSnapshot(
  client: VimClient,
  snapshot: ManagedObjectReference,
): Promise<void> {
  const task = moref(
    await client.invoke(
      'RemoveSnapshot_Task',
      snapshot,
      element('removeChildren', false) + element('consolidate', true),
    ),
  );
  if (task === null)
    throw new VsphereError(
      'EXTENTLOG_ERR_VSPHERE_PROTOCOL',
      'RemoveSnapshot_Task returned no task',
    );
  await client.waitForTask(task, `removing snapshot ${snapshot.value}`);
}
