/**
 * The NBD client against nbdkit: the file plugin (content and base:allocation from a
 * sparse file), TLS with a pre-shared key, server errors injected with the error filter
 * (each error value translated, the connection still usable afterwards), and a server that
 * dies with a read in flight (delay filter, then the server is killed by its PID).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, rm, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { NbdClient } from '../../../producers/nbd/nbd-client.js';
import type { NbdError } from '../../../producers/nbd/errors.js';
import { patternBytes, writeAt } from '../../support/image-files.js';
import { makePskFile, startNbdkit } from '../../support/nbd-servers.js';
import { eventually } from '../../support/eventually.js';
import { makeTempDir } from '../../support/temp-dir.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const SIZE = 16 * MiB;

let tmp: { dir: string; remove: () => Promise<void> };
let file: string;
const cleanups: (() => Promise<unknown> | unknown)[] = [];
const cleanup = (fn: () => Promise<unknown> | unknown) => cleanups.push(fn);
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

before(async () => {
  tmp = await makeTempDir('nbd-nbdkit');
  file = path.join(tmp.dir, 'disk.img');
  await writeFile(file, '');
  await truncate(file, SIZE);
  await writeAt(file, 0, patternBytes(2 * MiB, 1));
  await writeAt(file, 9 * MiB, patternBytes(MiB + 4096, 2));
});

after(async () => {
  for (const fn of cleanups.reverse()) await fn();
  await tmp.remove();
});

test('the file plugin over TCP: content and allocation of a sparse file', async () => {
  const server = await startNbdkit(cleanup, { dir: tmp.dir, args: ['file', file], tcp: true });
  const client = await NbdClient.connect({
    address: server.address,
    exportName: '',
    metaContexts: ['base:allocation'],
  });
  assert.equal(sha256(await client.read(0, SIZE)), sha256(await readFile(file)));
  const allocation = (await client.blockStatus(0, SIZE)).get('base:allocation')!;
  const data = allocation
    .filter((descriptor) => (descriptor.flags & 1) === 0)
    .map(({ offsetBytes, lengthBytes }) => [offsetBytes, lengthBytes]);
  assert.deepEqual(data, [
    [0, 2 * MiB],
    [9 * MiB, MiB + 4096],
  ]);
  await client.close();
});

describe('TLS with a pre-shared key (--tls=require --tls-psk)', () => {
  let address: { socketPath: string } | { host: string; port: number };
  let psk: { identity: string; key: Buffer };
  before(async () => {
    const pskFile = path.join(tmp.dir, 'keys.psk');
    psk = await makePskFile(pskFile, 'extentlog');
    const server = await startNbdkit(cleanup, {
      dir: tmp.dir,
      args: ['file', file],
      serverOptions: ['--tls=require', `--tls-psk=${pskFile}`],
    });
    address = server.address;
  });

  test('reads with the right key', async () => {
    const client = await NbdClient.connect({ address, exportName: '', tls: { psk } });
    assert.ok((await client.read(9 * MiB, 4096)).equals(patternBytes(4096, 2)));
    await client.close();
  });

  test('without TLS settings: the server requires TLS', async () => {
    await assert.rejects(NbdClient.connect({ address, exportName: '' }), {
      code: 'EXTENTLOG_ERR_NBD_TLS_REQUIRED',
    });
  });

  test('a wrong key fails the TLS handshake', async () => {
    await assert.rejects(
      NbdClient.connect({
        address,
        exportName: '',
        tls: { psk: { identity: psk.identity, key: Buffer.alloc(32, 7) } },
      }),
      { code: 'EXTENTLOG_ERR_NBD_TLS' },
    );
  });
});

describe('server errors (error filter)', () => {
  for (const [name, retriable] of [
    ['EIO', true],
    ['EINVAL', false],
    ['ENOSPC', false],
    ['ENOMEM', true],
  ] as const) {
    test(`${name} on reads is reported as ${name}; the connection keeps working`, async () => {
      const trigger = path.join(tmp.dir, `fail-${name}`);
      const server = await startNbdkit(cleanup, {
        dir: tmp.dir,
        args: [
          '--filter=error',
          'file',
          file,
          `error-pread=${name}`,
          'error-pread-rate=100%',
          `error-pread-file=${trigger}`,
        ],
      });
      const client = await NbdClient.connect({ address: server.address, exportName: '' });
      cleanup(() => client.destroy());
      await writeFile(trigger, '');
      await assert.rejects(client.read(MiB, 64 * KiB), (error: NbdError) => {
        assert.equal(error.code, 'EXTENTLOG_ERR_NBD_SERVER');
        assert.equal(error.details.errno, name);
        assert.equal(error.retriable, retriable);
        assert.match(
          error.message,
          new RegExp(`NBD_CMD_READ of 65536 bytes at offset 1048576 failed with ${name}`),
        );
        return true;
      });
      await rm(trigger);
      assert.ok(
        (await client.read(MiB, 64 * KiB)).equals(
          patternBytes(2 * MiB, 1).subarray(MiB, MiB + 64 * KiB),
        ),
      );
      await client.close();
    });
  }
});

/** nbdkit that logs each request as it arrives, then holds reads for 30 s. */
async function slowServer(name: string) {
  const logFile = path.join(tmp.dir, `${name}.log`);
  const server = await startNbdkit(cleanup, {
    dir: tmp.dir,
    args: ['--filter=log', '--filter=delay', 'file', file, `logfile=${logFile}`, 'delay-read=30'],
  });
  const readsArrived = (count: number) =>
    eventually(`${count} reads at the server`, async () => {
      const log = await readFile(logFile, 'utf8').catch(() => '');
      return (log.match(/ Read /g)?.length ?? 0) >= count ? true : undefined;
    });
  return { server, readsArrived };
}

test('a server killed with reads in flight fails them as disconnected, retriably', async () => {
  const { server, readsArrived } = await slowServer('killed');
  const client = await NbdClient.connect({
    address: server.address,
    exportName: '',
    connections: 2,
  });
  assert.equal(client.connectionCount, 2);
  const reads = [client.read(0, MiB), client.read(8 * MiB, 2 * MiB)].map((read) =>
    read.then(
      () => null,
      (error: NbdError) => error,
    ),
  );
  await readsArrived(2);
  await server.process.kill();
  for (const read of reads) {
    const error = await read;
    assert.equal(error?.code, 'EXTENTLOG_ERR_NBD_DISCONNECTED');
    assert.equal(error.retriable, true);
    assert.match(error.message, /closed the connection/);
  }
  await assert.rejects(client.read(0, 512), { code: 'EXTENTLOG_ERR_NBD_DISCONNECTED' });
});

test('a server that shuts down answers ESHUTDOWN; the client disconnects and says so', async () => {
  const { server, readsArrived } = await slowServer('shutdown');
  const client = await NbdClient.connect({ address: server.address, exportName: '' });
  const read = client.read(0, MiB).then(
    () => null,
    (error: NbdError) => error,
  );
  await readsArrived(1);
  await server.stop();
  const error = await read;
  assert.equal(error?.code, 'EXTENTLOG_ERR_NBD_SERVER');
  assert.equal(error.details.errno, 'ESHUTDOWN');
  assert.equal(error.retriable, true);
  await assert.rejects(client.read(0, 512), { code: 'EXTENTLOG_ERR_NBD_SERVER' });
});
