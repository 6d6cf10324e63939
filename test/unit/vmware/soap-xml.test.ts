/**
 * The SOAP reader against responses captured from vcsim (test/fixtures/vsphere/), and the
 * envelopes the client and the CBT emulator write, read back by the same reader.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  asArray,
  child,
  element,
  escapeXml,
  moref,
  parseSoap,
  soapEnvelope,
  soapFault,
  soapResponse,
  text,
  xsiType,
} from '../../../producers/vmware/soap-xml.js';
import type { VsphereError } from '../../../producers/vmware/errors.js';
import { parseObjectContents } from '../../../producers/vmware/vim-client.js';
import { parseDisks } from '../../../producers/vmware/vsphere-cbt.js';

const fixtures = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../../test/fixtures/vsphere',
);
const fixture = (name: string) => readFile(path.join(fixtures, name), 'utf8');

function body(xml: string) {
  const parsed = parseSoap(xml);
  assert.ok(parsed !== null && 'body' in parsed, 'a response body');
  return parsed.body;
}

test('service content: managed object references and the API version', async () => {
  const returnval = child(body(await fixture('service-content.xml')), 'returnval');
  assert.deepEqual(moref(child(returnval, 'propertyCollector')), {
    type: 'PropertyCollector',
    value: 'ha-property-collector',
  });
  assert.equal(text(child(child(returnval, 'about'), 'apiVersion')), '6.5');
});

test("a VM's devices: the virtual disk with its key, capacity and backing file", async () => {
  const returnval = child(body(await fixture('vm-devices.xml')), 'returnval');
  const [object] = asArray(child(returnval, 'objects'));
  const properties = new Map(
    asArray(child(object, 'propSet')).map((property) => [
      text(child(property, 'name')),
      child(property, 'val'),
    ]),
  );
  assert.equal(xsiType(properties.get('config.hardware.device')), 'ArrayOfVirtualDevice');
  const disks = parseDisks(properties.get('config.hardware.device'));
  assert.equal(disks.length, 1);
  assert.equal(disks[0]!.capacityBytes, 64 * 1024 * 1024);
  assert.match(disks[0]!.fileName, /^\[LocalDS_0\] .*\.vmdk$/);
  assert.equal(disks[0]!.changeId, null);
  // vcsim leaves a false changeTrackingEnabled out; the client reads absent as off.
  assert.notEqual(text(properties.get('config.changeTrackingEnabled')), 'true');
});

test("a task's result: a reference typed by xsi:type and by its own type attribute", async () => {
  const returnval = child(body(await fixture('task-info.xml')), 'returnval');
  const [object] = asArray(child(returnval, 'objects'));
  const result = asArray(child(object, 'propSet')).find(
    (property) => text(child(property, 'name')) === 'info.result',
  );
  const value = child(result, 'val');
  assert.equal(xsiType(value), 'ManagedObjectReference');
  assert.equal(moref(value)?.type, 'VirtualMachineSnapshot');
});

test('a SOAP fault: the vSphere fault type comes from the detail', async () => {
  const parsed = parseSoap(await fixture('fault-method-not-found.xml'));
  assert.ok(parsed !== null && 'fault' in parsed);
  assert.equal(parsed.fault.faultType, 'MethodNotFound');
  assert.match(parsed.fault.faultString, /does not implement: QueryChangedDiskAreas/);
});

test('properties the collector could not read (missingSet) are an error, not absent', async () => {
  const returnval = child(body(await fixture('fault-not-authenticated.xml')), 'returnval');
  assert.throws(
    () => parseObjectContents(returnval, 'http://vc'),
    (error: VsphereError) => {
      assert.equal(error.code, 'EXTENTLOG_ERR_VSPHERE_AUTH');
      assert.match(
        error.message,
        /property name of VirtualMachine vm-\d+ cannot be read: NotAuthenticated/,
      );
      return true;
    },
  );
});

test('what the emulator writes reads back: responses and faults', () => {
  const response = body(
    soapResponse(
      'QueryChangedDiskAreas',
      `<returnval>${element('startOffset', 0)}${element('length', 4096)}<changedArea>${element('start', 512)}${element('length', 1024)}</changedArea></returnval>`,
    ),
  );
  const areas = asArray(child(child(response, 'returnval'), 'changedArea'));
  assert.deepEqual(
    areas.map((area) => [text(child(area, 'start')), text(child(area, 'length'))]),
    [['512', '1024']],
  );
  const fault = parseSoap(
    soapFault('FileFault', 'Error caused by file [ds] a.vmdk', element('file', 'a')),
  );
  assert.ok(fault !== null && 'fault' in fault);
  assert.deepEqual(
    [fault.fault.faultType, fault.fault.faultString],
    ['FileFault', 'Error caused by file [ds] a.vmdk'],
  );
});

test('request envelopes escape text and carry typed references', () => {
  const xml = soapEnvelope(
    'CreateSnapshot_Task',
    { type: 'VirtualMachine', value: 'vm-1' },
    element('name', 'a<b & "c"'),
  );
  assert.match(
    xml,
    /<_this type="VirtualMachine">vm-1<\/_this><name>a&lt;b &amp; &quot;c&quot;<\/name>/,
  );
  assert.equal(escapeXml("'"), '&apos;');
  assert.equal(parseSoap('not xml at all'), null);
});
