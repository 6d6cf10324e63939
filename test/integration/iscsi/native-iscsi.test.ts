/**
 * The iscsi addon against a real target (tgtd): login with and without CHAP, every command
 * the replication needs, many commands in flight, and each failure translated into a
 * NativeError that says what happened — wrong secret, unknown IQN or LUN, unreachable portal,
 * a target that dies mid-command, an LBA past the end.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { NativeError } from '../../../native/errors.js';
import * as iscsi from '../../../native/iscsi/index.js';
import { IscsiSession, senseOf, type IscsiSessionOptions } from '../../../native/iscsi/index.js';
import { freePort, Tgtd } from '../../peers/tgtd.js';
import { patternBytes } from '../../support/image-files.js';
import { allocatedBytes, createSparseFile, isHole } from '../../support/sparse-file.js';
import { makeTempDir } from '../../support/temp-dir.js';

const MiB = 1024 * 1024;
const INITIATOR = 'iqn.2024-01.io.extentlog:test-native';
const PLAIN = 'iqn.2024-01.io.extentlog:native-plain';
const ONE_WAY = 'iqn.2024-01.io.extentlog:native-chap';
const MUTUAL = 'iqn.2024-01.io.extentlog:native-mutual';
const FULL = 'iqn.2024-01.io.extentlog:native-full';
const CHAP = { username: 'native-initiator', secret: 'initiator-secret-1' };
const TARGET_CHAP = { username: 'native-target', secret: 'target-secret-22' };

let tgtd: Tgtd;
let tmp: { dir: string; remove: () => Promise<void> };
const opened: IscsiSession[] = [];

function lunPath(name: string): string {
  return path.join(tmp.dir, `${name}.img`);
}

async function open(options: Partial<IscsiSessionOptions> = {}): Promise<IscsiSession> {
  const session = await IscsiSession.open({
    portal: tgtd.portal,
    targetIqn: PLAIN,
    lun: 1,
    initiatorIqn: INITIATOR,
    ...options,
  });
  opened.push(session);
  return session;
}

async function rejection(promise: Promise<unknown>): Promise<NativeError> {
  const error = await promise.then(
    () => assert.fail('expected a rejection'),
    (caught: unknown) => caught,
  );
  assert.ok(error instanceof NativeError, `expected a NativeError, got ${String(error)}`);
  return error;
}

before(async () => {
  tmp = await makeTempDir('native-iscsi');
  tgtd = await Tgtd.start(tmp.dir);
  for (const name of ['plain', 'chap', 'mutual', 'full'])
    await createSparseFile(lunPath(name), 64 * MiB);
  await tgtd.addTarget({
    tid: 1,
    iqn: PLAIN,
    luns: [{ lun: 1, backingPath: lunPath('plain'), thinProvisioning: true }],
  });
  await tgtd.addTarget({
    tid: 2,
    iqn: ONE_WAY,
    luns: [{ lun: 1, backingPath: lunPath('chap') }],
    chap: CHAP,
  });
  await tgtd.addTarget({
    tid: 3,
    iqn: MUTUAL,
    luns: [{ lun: 1, backingPath: lunPath('mutual') }],
    chap: CHAP,
    mutualChap: TARGET_CHAP,
  });
  await tgtd.addTarget({ tid: 4, iqn: FULL, luns: [{ lun: 1, backingPath: lunPath('full') }] });
});

after(async () => {
  for (const session of opened) await session.close();
  await tgtd?.stop();
  await tmp?.remove();
});

describe('a session without authentication', () => {
  test('describes the LUN: capacity, block limits, thin provisioning', async () => {
    const session = await open();
    const capacity = await session.readCapacity16();
    assert.equal(capacity.sizeBytes, 64 * MiB);
    assert.equal(capacity.blockSizeBytes, 512);
    assert.equal(capacity.lbpme, true);
    assert.equal(capacity.lbprz, true);
    const limits = await session.blockLimits();
    assert.ok(limits !== null);
    assert.ok(limits.maxUnmapDescriptors > 0);
    const provisioning = await session.logicalBlockProvisioning();
    assert.deepEqual(provisioning, {
      lbpu: true,
      lbpws: true,
      lbprz: true,
      provisioningType: 'thin',
    });

    const full = await open({ targetIqn: FULL });
    assert.equal((await full.readCapacity16()).lbpme, false);
  });

  test('writes with many commands in flight, reads them back, and the backing file has the bytes', async () => {
    const session = await open();
    const chunk = 256 * 1024;
    const writes = Array.from({ length: 48 }, (_, index) => patternBytes(chunk, index + 1));
    let immediateRan = false;
    const pending = writes.map((data, index) => session.write16((index * chunk) / 512, 512, data));
    // Submitting returned at once: the event loop is free while the target works.
    setImmediate(() => {
      immediateRan = true;
    });
    assert.ok(session.inFlight > 1, `expected commands in flight, saw ${session.inFlight}`);
    await Promise.all(pending);
    assert.ok(immediateRan);
    await session.synchronizeCache16();
    for (const [index, data] of writes.entries()) {
      const read = await session.read16((index * chunk) / 512, 512, Buffer.alloc(chunk));
      assert.ok(read.equals(data), `chunk ${index} reads back`);
    }
    const backing = await readFile(lunPath('plain'));
    assert.ok(backing.subarray(5 * chunk, 6 * chunk).equals(writes[5]!));
  });

  test('UNMAP and WRITE SAME with UNMAP punch holes that GET LBA STATUS(16) reports', async () => {
    const session = await open();
    const base = 32 * MiB;
    await session.write16(base / 512, 512, patternBytes(4 * MiB, 9));
    await session.synchronizeCache16();
    const before = await allocatedBytes(lunPath('plain'));
    await session.unmap([{ lba: base / 512, blocks: MiB / 512 }]);
    await session.writeSame16((base + 2 * MiB) / 512, MiB / 512, 512, { unmap: true });
    await session.synchronizeCache16();
    assert.ok(await isHole(lunPath('plain'), base, MiB), 'UNMAP left a hole');
    assert.ok(
      await isHole(lunPath('plain'), base + 2 * MiB, MiB),
      'WRITE SAME with UNMAP left a hole',
    );
    assert.ok(!(await isHole(lunPath('plain'), base + MiB, MiB)), 'the data between stays');
    assert.ok((await allocatedBytes(lunPath('plain'))) <= before - 2 * MiB);
    const zeros = await session.read16(base / 512, 512, Buffer.alloc(MiB));
    assert.ok(zeros.equals(Buffer.alloc(MiB)), 'unmapped blocks read as zeros (LBPRZ)');
    // Without the UNMAP bit WRITE SAME writes the zero block: the data goes, the blocks stay.
    await session.writeSame16((base + MiB) / 512, 64, 512, { unmap: false });
    const written = await session.read16((base + MiB) / 512, 512, Buffer.alloc(64 * 512));
    assert.ok(written.equals(Buffer.alloc(64 * 512)), 'WRITE SAME without UNMAP wrote zeros');
    assert.ok(!(await isHole(lunPath('plain'), base + MiB, 64 * 512)), 'and left them allocated');

    const report = await session.getLbaStatus16({ lba: base / 512, allocationBytes: 4096 });
    const first = report.descriptors[0];
    assert.deepEqual(first, {
      lba: base / 512,
      blocks: MiB / 512,
      provisioningStatus: 1,
      additionalStatus: 0,
    });
    assert.deepEqual(
      report.descriptors
        .slice(1, 3)
        .map((descriptor) => [descriptor.blocks, descriptor.provisioningStatus]),
      [
        [MiB / 512, 0],
        [MiB / 512, 1],
      ],
    );
  });

  test('GET LBA STATUS(32) reaches the target in an Extended CDB AHS; tgtd rejects the opcode', async () => {
    const session = await open({ extendedCdbs: true });
    const error = await rejection(
      session.getLbaStatus32({
        lba: 0,
        scanLengthBlocks: 1024,
        allocationBytes: 4096,
        reportType: 1,
      }),
    );
    assert.equal(error.code, 'EXTENTLOG_ERR_NATIVE_ISCSI_SCSI');
    assert.deepEqual(senseOf(error), { senseKey: 5, asc: 0x20, ascq: 0 });
    assert.match(error.message, /ILLEGAL REQUEST \/ INVALID COMMAND OPERATION CODE/);
    // The connection is intact: the relay forwarded one whole PDU.
    const report = await session.getLbaStatus16({ lba: 0, allocationBytes: 4096 });
    assert.ok(report.descriptors.length > 0);
    assert.equal((await session.readCapacity16()).sizeBytes, 64 * MiB);
  });

  test('an LBA past the end fails with ILLEGAL REQUEST / LOGICAL BLOCK ADDRESS OUT OF RANGE', async () => {
    const session = await open();
    const error = await rejection(session.write16((64 * MiB) / 512, 512, Buffer.alloc(4096)));
    assert.equal(error.code, 'EXTENTLOG_ERR_NATIVE_ISCSI_SCSI');
    assert.equal(error.retriable, false);
    assert.match(error.message, /WRITE\(16\) on .* LOGICAL BLOCK ADDRESS OUT OF RANGE/);
    await session.testUnitReady();
  });

  test('arguments are checked before they reach libiscsi', async () => {
    const session = await open();
    assert.throws(
      () => session.write16(0, 512, Buffer.alloc(100)),
      /buffer length must be a positive multiple of 512/,
    );
    assert.throws(() => session.read16(-1, 512, Buffer.alloc(512)), /lba must be an integer/);
    assert.throws(
      () => session.getLbaStatus32({ lba: 0, scanLengthBlocks: 1, allocationBytes: 64 }),
      /extendedCdbs/,
    );
  });

  test('a closed session rejects commands with EXTENTLOG_ERR_NATIVE_ISCSI_CLOSED', async () => {
    const session = await open();
    await session.close();
    const error = await rejection(session.testUnitReady());
    assert.equal(error.code, 'EXTENTLOG_ERR_NATIVE_ISCSI_CLOSED');
  });
});

describe('CHAP', () => {
  test('one-way CHAP logs in with the right secret and is refused with a wrong one', async () => {
    const session = await open({ targetIqn: ONE_WAY, chap: CHAP });
    await session.testUnitReady();
    const error = await rejection(
      open({ targetIqn: ONE_WAY, chap: { ...CHAP, secret: 'wrong-secret-000' } }),
    );
    assert.equal(error.code, 'EXTENTLOG_ERR_NATIVE_ISCSI_LOGIN');
    assert.equal(error.retriable, false);
    assert.match(
      error.message,
      /refused the login: authentication failure \(status 0x0201\): check the CHAP user name and secret/,
    );
    const none = await rejection(open({ targetIqn: ONE_WAY }));
    assert.equal(none.code, 'EXTENTLOG_ERR_NATIVE_ISCSI_LOGIN');
  });

  test('mutual CHAP logs in when both sides prove their secret, and fails when the target cannot', async () => {
    const session = await open({ targetIqn: MUTUAL, chap: CHAP, targetChap: TARGET_CHAP });
    await session.testUnitReady();
    const error = await rejection(
      open({
        targetIqn: MUTUAL,
        chap: CHAP,
        targetChap: { ...TARGET_CHAP, secret: 'not-the-target-1' },
      }),
    );
    assert.equal(error.code, 'EXTENTLOG_ERR_NATIVE_ISCSI_LOGIN');
    assert.match(error.message, /mutual CHAP failed/);
  });
});

describe('addressing failures', () => {
  test('an unknown target IQN is refused as not found', async () => {
    const error = await rejection(open({ targetIqn: 'iqn.2024-01.io.extentlog:no-such-target' }));
    assert.equal(error.code, 'EXTENTLOG_ERR_NATIVE_ISCSI_LOGIN');
    assert.match(error.message, /target not found \(status 0x0203\): no target of this IQN/);
  });

  test('an unknown LUN is EXTENTLOG_ERR_NATIVE_ISCSI_NO_LUN', async () => {
    const error = await rejection(open({ lun: 9 }));
    assert.equal(error.code, 'EXTENTLOG_ERR_NATIVE_ISCSI_NO_LUN');
    assert.match(error.message, /has no LUN 9/);
  });

  test('a portal nobody listens on is a retriable EXTENTLOG_ERR_NATIVE_ISCSI_CONNECT', async () => {
    const portal = `127.0.0.1:${await freePort()}`;
    for (const extendedCdbs of [false, true]) {
      const error = await rejection(open({ portal, extendedCdbs }));
      assert.equal(error.code, 'EXTENTLOG_ERR_NATIVE_ISCSI_CONNECT');
      assert.equal(error.retriable, true);
      assert.match(error.message, /cannot be reached: .*(refused|ECONNREFUSED)/);
    }
  });
});

test('a target that stops answering times the command out, and the session is dropped', async (t) => {
  const session = await open({ commandTimeoutMs: 1000 });
  await session.testUnitReady();
  const pid = tgtd.pid!;
  process.kill(pid, 'SIGSTOP');
  t.after(() => {
    process.kill(pid, 'SIGCONT');
  });
  const failure = await rejection(session.read16(0, 512, Buffer.alloc(4096)));
  assert.equal(failure.code, 'EXTENTLOG_ERR_NATIVE_ISCSI_TIMEOUT', failure.message);
  assert.equal(failure.retriable, true);
  assert.match(failure.message, /got no answer within 1000 ms; the session was dropped/);
  // The session went down with the timeout: later commands fail at once, naming it.
  const after = await rejection(session.testUnitReady());
  assert.equal(after.code, 'EXTENTLOG_ERR_NATIVE_ISCSI_TIMEOUT', after.message);
  process.kill(pid, 'SIGCONT');
  await (await open()).testUnitReady();
});

test('a target killed mid-command rejects what is in flight as a lost connection', async () => {
  const session = await open();
  const data = patternBytes(MiB, 77);
  const inFlight = Array.from({ length: 16 }, (_, index) =>
    session.write16((index * MiB) / 512, 512, data).then(
      () => null,
      (error: unknown) => error,
    ),
  );
  await tgtd.kill();
  const outcomes = await Promise.all(inFlight);
  const failures = outcomes.filter((outcome) => outcome !== null);
  for (const failure of failures) {
    assert.ok(failure instanceof NativeError);
    assert.equal(failure.code, 'EXTENTLOG_ERR_NATIVE_ISCSI_CONNECTION_LOST', failure.message);
    assert.equal(failure.retriable, true);
  }
  const after = await rejection(session.testUnitReady());
  assert.ok(
    ['EXTENTLOG_ERR_NATIVE_ISCSI_CONNECTION_LOST', 'EXTENTLOG_ERR_NATIVE_ISCSI_CLOSED'].includes(
      after.code,
    ),
    after.code,
  );
  await tgtd.restart();
  const again = await open();
  await again.testUnitReady();
});

test('without the addon, opening a session names the addon, the package and the build command', async () => {
  // The wrapper as built, copied where no addon sits beside it.
  const built = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
  const copy = path.join(tmp.dir, 'no-addon');
  const files = [
    ...(await readdir(path.join(built, 'native/iscsi')))
      .filter((name) => name.endsWith('.js'))
      .map((name) => `native/iscsi/${name}`),
    'native/errors.js',
    'native/addon-loader.js',
    'errors/extentlog-error.js',
  ];
  for (const file of files) {
    await mkdir(path.dirname(path.join(copy, file)), { recursive: true });
    await copyFile(path.join(built, file), path.join(copy, file));
  }
  await writeFile(path.join(copy, 'package.json'), '{"type":"module"}');
  const wrapper = (await import(
    pathToFileURL(path.join(copy, 'native/iscsi/index.js')).href
  )) as typeof iscsi;
  assert.equal(wrapper.isAvailable(), false);
  assert.equal(iscsi.isAvailable(), true);
  // A NativeError of the copy's own module: compare by code.
  const error = (await wrapper.IscsiSession.open({
    portal: tgtd.portal,
    targetIqn: PLAIN,
    lun: 1,
    initiatorIqn: INITIATOR,
  }).then(
    () => assert.fail('expected a rejection'),
    (caught: unknown) => caught,
  )) as NativeError;
  assert.equal(error.code, 'EXTENTLOG_ERR_NATIVE_NOT_BUILT');
  assert.match(error.message, /native addon 'iscsi' is not built/);
  assert.match(error.message, /libiscsi-dev/);
  assert.match(error.message, /npm run build:native/);
});
