/**
 * The iSCSI target against tgtd: extents of every kind and alignment land on the LUN's
 * backing file; ZERO and DISCARD leave holes on a thin LUN; a LUN smaller than the disk, a
 * wrong CHAP secret, an unknown IQN and an unreachable portal are refused with clear errors;
 * a target that is killed and restarted under load, or stops answering for a while, loses
 * nothing once flush() resolved.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { pino } from 'pino';
import { createIscsiTarget, lunTable } from '../../../consumers/iscsi/iscsi-target.js';
import type { ApplyExtent, Target, TargetDisk } from '../../../consumers/target.js';
import type { ExtentlogError } from '../../../errors/extentlog-error.js';
import { freePort, Tgtd } from '../../peers/tgtd.js';
import { eventually } from '../../support/eventually.js';
import { patternBytes } from '../../support/image-files.js';
import { silentLogger } from '../../support/silent-logger.js';
import { createSparseFile, isHole } from '../../support/sparse-file.js';
import { makeTempDir } from '../../support/temp-dir.js';

const MiB = 1024 * 1024;
const INITIATOR = 'iqn.2024-01.io.extentlog:test-target';
const CHAP = { username: 'target-test-user', secret: 'target-test-secret' };
const IQN = (name: string) => `iqn.2024-01.io.extentlog:target-${name}`;

let tgtd: Tgtd;
let tmp: { dir: string; remove: () => Promise<void> };
const targets: Target[] = [];

function backing(name: string): string {
  return path.join(tmp.dir, `${name}.img`);
}

function target(overrides: Partial<Parameters<typeof createIscsiTarget>[0]> = {}): Target {
  const created = createIscsiTarget({
    lunFor: lunTable(tgtd.portal, [
      { disk: 'thin', targetIqn: IQN('thin'), lun: 1 },
      { disk: 'full', targetIqn: IQN('full'), lun: 1 },
      { disk: 'small', targetIqn: IQN('small'), lun: 1 },
      { disk: 'chap', targetIqn: IQN('chap'), lun: 1 },
      { disk: 'crash', targetIqn: IQN('crash'), lun: 1 },
      { disk: 'missing', targetIqn: IQN('missing'), lun: 1 },
      { disk: 'hung', targetIqn: IQN('hung'), lun: 1 },
    ]),
    initiatorIqn: INITIATOR,
    logger: silentLogger,
    ...overrides,
  });
  targets.push(created);
  return created;
}

function info(diskId: string, sizeBytes = 64 * MiB) {
  return { feed: 'vm1', diskId, sizeBytes, blockSizeBytes: 4096 };
}

async function openFailure(promise: Promise<unknown>): Promise<ExtentlogError> {
  return (await promise.then(
    () => assert.fail('expected openDisk to fail'),
    (error: unknown) => error,
  )) as ExtentlogError;
}

async function applyAll(disk: TargetDisk, model: Buffer, extents: readonly ApplyExtent[]) {
  for (const extent of extents) {
    await disk.apply(extent);
    if (extent.op === 'WRITE') extent.data!.copy(model, extent.offsetBytes);
    else model.fill(0, extent.offsetBytes, extent.offsetBytes + extent.lengthBytes);
  }
}

before(async () => {
  tmp = await makeTempDir('iscsi-target');
  tgtd = await Tgtd.start(tmp.dir);
  for (const name of ['thin', 'full', 'chap', 'crash', 'hung'])
    await createSparseFile(backing(name), 64 * MiB);
  await createSparseFile(backing('small'), 32 * MiB);
  await tgtd.addTarget({
    tid: 1,
    iqn: IQN('thin'),
    luns: [{ lun: 1, backingPath: backing('thin'), thinProvisioning: true }],
  });
  await tgtd.addTarget({
    tid: 2,
    iqn: IQN('full'),
    luns: [{ lun: 1, backingPath: backing('full') }],
  });
  await tgtd.addTarget({
    tid: 3,
    iqn: IQN('small'),
    luns: [{ lun: 1, backingPath: backing('small') }],
  });
  await tgtd.addTarget({
    tid: 4,
    iqn: IQN('chap'),
    luns: [{ lun: 1, backingPath: backing('chap') }],
    chap: CHAP,
  });
  await tgtd.addTarget({
    tid: 5,
    iqn: IQN('crash'),
    luns: [{ lun: 1, backingPath: backing('crash'), thinProvisioning: true }],
  });
  await tgtd.addTarget({
    tid: 6,
    iqn: IQN('hung'),
    luns: [{ lun: 1, backingPath: backing('hung') }],
  });
});

after(async () => {
  for (const created of targets) await created.close();
  await tgtd?.stop();
  await tmp?.remove();
});

test('extents of every kind and alignment land on the LUN; ZERO and DISCARD leave holes on a thin LUN', async () => {
  const disk = await target({ maxWriteBytes: 256 * 1024 }).openDisk(info('thin'));
  await disk.beginEpoch({
    epoch: 1,
    mode: 'FULL',
    diskSizeBytes: 64 * MiB,
    baseEpoch: null,
    sourceReference: 'r1',
  });
  const model = Buffer.alloc(64 * MiB);
  await applyAll(disk, model, [
    { offsetBytes: 0, lengthBytes: 3 * MiB, op: 'WRITE', data: patternBytes(3 * MiB, 1) },
    { offsetBytes: 10 * MiB + 100, lengthBytes: 777, op: 'WRITE', data: patternBytes(777, 2) },
    { offsetBytes: 10 * MiB + 300, lengthBytes: 1000, op: 'WRITE', data: patternBytes(1000, 3) },
    { offsetBytes: 20 * MiB, lengthBytes: 4 * MiB, op: 'WRITE', data: patternBytes(4 * MiB, 4) },
    { offsetBytes: 20 * MiB + 512, lengthBytes: MiB, op: 'ZERO', data: null },
    { offsetBytes: 22 * MiB, lengthBytes: MiB + 333, op: 'DISCARD', data: null },
    { offsetBytes: 63 * MiB, lengthBytes: MiB, op: 'WRITE', data: patternBytes(MiB, 5) },
  ]);
  await disk.flush();
  const location = await disk.commitEpoch({
    epoch: 1,
    extentCount: 7,
    bytes: 0,
    digest: 'd',
    sourceReference: 'r1',
    committedAtMs: 0,
  });
  assert.equal(location.location, `iscsi://${tgtd.portal}/${IQN('thin')}/1`);
  assert.ok((await readFile(backing('thin'))).equals(model), 'the backing file holds the extents');
  assert.ok(await isHole(backing('thin'), 20 * MiB + 4096, MiB - 4096), 'ZERO unmapped');
  assert.ok(await isHole(backing('thin'), 22 * MiB, MiB), 'DISCARD unmapped');
  await disk.close();
});

test('on a fully provisioned LUN ZERO writes zeros (no holes are promised)', async () => {
  const disk = await target().openDisk(info('full'));
  const model = Buffer.alloc(64 * MiB);
  await applyAll(disk, model, [
    { offsetBytes: 0, lengthBytes: 2 * MiB, op: 'WRITE', data: patternBytes(2 * MiB, 7) },
    { offsetBytes: MiB - 7, lengthBytes: 4096, op: 'ZERO', data: null },
    { offsetBytes: 1536 * 1024, lengthBytes: 8192, op: 'DISCARD', data: null },
  ]);
  await disk.flush();
  assert.ok(
    (await readFile(backing('full'))).subarray(0, 2 * MiB).equals(model.subarray(0, 2 * MiB)),
  );
  await disk.close();
});

test('a LUN smaller than the disk is refused, naming both sizes', async () => {
  const error = await openFailure(target().openDisk(info('small')));
  assert.equal(error.code, 'EXTENTLOG_ERR_TARGET_TOO_SMALL');
  assert.equal(error.retriable, false);
  assert.match(
    error.message,
    /disk small has 67108864 bytes but .*target-small LUN 1 at .* has only 33554432 bytes/,
  );
});

test('a wrong CHAP secret, an unknown IQN and an unreachable portal are clear open errors', async () => {
  const wrong = await openFailure(
    target({ chap: { ...CHAP, secret: 'not-the-secret' } }).openDisk(info('chap')),
  );
  assert.equal(wrong.code, 'EXTENTLOG_ERR_TARGET_OPEN');
  assert.equal(wrong.retriable, false);
  assert.match(
    wrong.message,
    /disk chap of feed vm1: cannot open iscsi:\/\/.*target-chap\/1: .*authentication failure/,
  );

  const good = await target({ chap: CHAP }).openDisk(info('chap'));
  await good.close();

  const missing = await openFailure(target().openDisk(info('missing')));
  assert.equal(missing.code, 'EXTENTLOG_ERR_TARGET_OPEN');
  assert.equal(missing.retriable, false);
  assert.match(missing.message, /target not found/);

  const portal = `127.0.0.1:${await freePort()}`;
  const unreachable = await openFailure(
    target({
      lunFor: lunTable(portal, [{ disk: 'thin', targetIqn: IQN('thin'), lun: 1 }]),
    }).openDisk(info('thin')),
  );
  assert.equal(unreachable.code, 'EXTENTLOG_ERR_TARGET_OPEN');
  assert.equal(unreachable.retriable, true);
  assert.match(unreachable.message, /cannot be reached/);

  const unknown = await openFailure(target().openDisk(info('not-configured')));
  assert.equal(unknown.code, 'EXTENTLOG_ERR_TARGET_CONFIG');
});

test('tgtd killed and restarted under load: the disk reconnects and flush() leaves every byte durable', async () => {
  const disk = await target({ maxWriteBytes: 128 * 1024 }).openDisk(info('crash'));
  const model = Buffer.alloc(64 * MiB);
  const extents: ApplyExtent[] = Array.from({ length: 48 }, (_, index) => ({
    offsetBytes: index * MiB + (index % 3) * 1000,
    lengthBytes: 512 * 1024 + index,
    op: 'WRITE' as const,
    data: patternBytes(512 * 1024 + index, 100 + index),
  }));
  await applyAll(disk, model, extents.slice(0, 16));
  const restarted = tgtd.restart();
  await applyAll(disk, model, extents.slice(16, 32));
  await restarted;
  await applyAll(disk, model, [
    ...extents.slice(32),
    { offsetBytes: 5 * MiB, lengthBytes: 2 * MiB, op: 'ZERO', data: null },
  ]);
  await disk.flush();
  assert.ok((await readFile(backing('crash'))).equals(model), 'the LUN converged');
  await disk.close();
});

test('a target that stops answering: commands time out, the disk reconnects once it answers, flush() leaves every byte durable', async (t) => {
  const warnings: string[] = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(line) });
  const disk = await target({ commandTimeoutMs: 1000, logger }).openDisk(info('hung'));
  const model = Buffer.alloc(64 * MiB);
  const extents: ApplyExtent[] = Array.from({ length: 16 }, (_, index) => ({
    offsetBytes: index * 3 * MiB + 512,
    lengthBytes: 256 * 1024,
    op: 'WRITE' as const,
    data: patternBytes(256 * 1024, 300 + index),
  }));
  await applyAll(disk, model, extents.slice(0, 8));
  const pid = tgtd.pid!;
  process.kill(pid, 'SIGSTOP');
  t.after(() => {
    process.kill(pid, 'SIGCONT');
  });
  await applyAll(disk, model, extents.slice(8));
  await eventually('a command to time out and the session to be dropped', () =>
    warnings.some((line) => line.includes('EXTENTLOG_ERR_NATIVE_ISCSI_TIMEOUT')) ? true : undefined,
  );
  process.kill(pid, 'SIGCONT');
  await disk.flush();
  assert.ok((await readFile(backing('hung'))).equals(model), 'the LUN has every write');
  await disk.close();
});
