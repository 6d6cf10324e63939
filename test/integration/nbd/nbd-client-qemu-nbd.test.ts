/**
 * The NBD client against qemu-nbd (qemu-utils): content read over unix sockets and TCP
 * (with TLS) equals `qemu-img convert -O raw` of the image; base:allocation agrees with
 * `qemu-img map`; a dirty bitmap exported with --bitmap shows exactly the ranges written
 * after it was added; errors name what to fix.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { NbdClient, type NbdClientOptions } from '../../../producers/nbd/nbd-client.js';
import type { NbdError } from '../../../producers/nbd/errors.js';
import { makeTlsMaterial, startQemuNbd, type RunningNbdServer } from '../../support/nbd-servers.js';
import { convertToRaw, qemuImg, qemuIo } from '../../support/qemu-images.js';
import { makeTempDir } from '../../support/temp-dir.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const SIZE = 48 * MiB;

let tmp: { dir: string; remove: () => Promise<void> };
let image: string;
let raw: Buffer;
const cleanups: (() => Promise<unknown> | unknown)[] = [];
const cleanup = (fn: () => Promise<unknown> | unknown) => cleanups.push(fn);
let server: RunningNbdServer;

before(async () => {
  tmp = await makeTempDir('nbd-qemu');
  image = path.join(tmp.dir, 'disk.qcow2');
  await qemuImg('create', '-q', '-f', 'qcow2', image, String(SIZE));
  await qemuIo(image, [
    'write -P 0x11 0 3M',
    'write -P 0x22 5M 64k',
    'write -z 8M 2M',
    'write -P 0x33 20M 7M',
    'write -P 0x44 47M 1M',
  ]);
  await qemuImg('bitmap', '--add', image, 'b0');
  await qemuIo(image, ['write -P 0x55 1M 128k', 'write -P 0x66 30M 64k', 'write -z 21M 1M']);
  const rawPath = path.join(tmp.dir, 'disk.raw');
  await convertToRaw(image, rawPath);
  raw = await readFile(rawPath);
  server = await startQemuNbd(cleanup, {
    image,
    format: 'qcow2',
    exportName: 'vm-disk',
    bitmap: 'b0',
    dir: tmp.dir,
  });
});

after(async () => {
  for (const fn of cleanups.reverse()) await fn();
  await tmp.remove();
});

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

async function connect(overrides: Partial<NbdClientOptions> = {}): Promise<NbdClient> {
  const client = await NbdClient.connect({
    address: server.address,
    exportName: 'vm-disk',
    metaContexts: ['base:allocation', 'qemu:dirty-bitmap:b0'],
    ...overrides,
  });
  cleanup(() => client.destroy());
  return client;
}

describe('reads', () => {
  test('the whole export, 1 MiB pieces all at once, equals the raw image', async () => {
    const client = await connect({ maxInFlight: 8, maxRequestBytes: 256 * KiB });
    assert.equal(client.sizeBytes, SIZE);
    assert.equal(client.export.readOnly, true);
    const pieces = await Promise.all(
      Array.from({ length: SIZE / MiB }, (_, index) => client.read(index * MiB, MiB)),
    );
    assert.equal(sha256(Buffer.concat(pieces)), sha256(raw));
    await client.close();
  });

  test('one 48 MiB read split into the server-sized requests equals the raw image', async () => {
    const client = await connect({ maxRequestBytes: 4 * MiB });
    assert.equal(client.maxRequestBytes, 4 * MiB);
    assert.equal(sha256(await client.read(0, SIZE)), sha256(raw));
    await client.close();
  });

  test('four connections (NBD_FLAG_CAN_MULTI_CONN) share the requests', async () => {
    const client = await connect({ connections: 4, maxInFlight: 2, maxRequestBytes: MiB });
    assert.equal(client.connectionCount, 4);
    assert.equal(sha256(await client.read(0, SIZE)), sha256(raw));
    await client.close();
  });

  test('unaligned reads of odd sizes, 200 in flight, return exactly their bytes', async () => {
    const client = await connect({ maxInFlight: 32 });
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    const ranges = Array.from({ length: 200 }, () => {
      const lengthBytes = 1 + (next() % (300 * KiB));
      return [next() % (SIZE - lengthBytes), lengthBytes] as const;
    });
    const results = await Promise.all(
      ranges.map(([offset, length]) => client.read(offset, length)),
    );
    ranges.forEach(([offset, length], index) =>
      assert.ok(
        results[index]!.equals(raw.subarray(offset, offset + length)),
        `range ${offset}+${length}`,
      ),
    );
    await client.close();
  });
});

describe('block status', () => {
  test('base:allocation agrees with qemu-img map', async () => {
    const client = await connect();
    const status = await client.blockStatus(0, SIZE);
    const allocation = status.get('base:allocation')!;
    const map = JSON.parse(await qemuImg('map', '-U', '--output=json', image)) as {
      start: number;
      length: number;
      data: boolean;
      zero: boolean;
    }[];
    const expected = coalesce(
      map.map((entry) => ({
        offsetBytes: entry.start,
        lengthBytes: entry.length,
        flags: (entry.data ? 0 : 1) | (entry.zero ? 2 : 0),
      })),
    );
    assert.deepEqual(coalesce(allocation), expected);
    await client.close();
  });

  test('the dirty bitmap holds exactly the ranges written after it was added', async () => {
    const client = await connect();
    const dirty = (await client.blockStatus(0, SIZE)).get('qemu:dirty-bitmap:b0')!;
    const ranges = dirty
      .filter((descriptor) => descriptor.flags === 1)
      .map((descriptor) => [descriptor.offsetBytes, descriptor.lengthBytes]);
    assert.deepEqual(ranges, [
      [MiB, 128 * KiB],
      [21 * MiB, MiB],
      [30 * MiB, 64 * KiB],
    ]);
    await client.close();
  });

  test('a block status request shorter than the export describes only its range', async () => {
    const client = await connect();
    const allocation = (await client.blockStatus(5 * MiB + 4096, 8192)).get('base:allocation')!;
    assert.deepEqual(allocation, [{ offsetBytes: 5 * MiB + 4096, lengthBytes: 8192, flags: 0 }]);
    await client.close();
  });
});

describe('negotiation', () => {
  test('probe (NBD_OPT_INFO, NBD_OPT_LIST_META_CONTEXT) describes the export', async () => {
    const probe = await NbdClient.probe({ address: server.address, exportName: 'vm-disk' });
    assert.equal(probe.export.sizeBytes, SIZE);
    assert.equal(probe.export.readOnly, true);
    assert.equal(probe.export.canMultiConn, true);
    assert.deepEqual(probe.metaContexts.sort(), ['base:allocation', 'qemu:dirty-bitmap:b0']);
  });

  test('an unknown export name is refused, naming the export', async () => {
    await assert.rejects(connect({ exportName: 'nope', metaContexts: [] }), (error: NbdError) => {
      assert.equal(error.code, 'EXTENTLOG_ERR_NBD_EXPORT');
      assert.match(error.message, /has no export 'nope'/);
      return true;
    });
  });

  test('a bitmap the export does not have is refused, listing what it offers', async () => {
    await assert.rejects(
      connect({ metaContexts: ['qemu:dirty-bitmap:gone'] }),
      (error: NbdError) => {
        assert.equal(error.code, 'EXTENTLOG_ERR_NBD_META_CONTEXT');
        assert.match(
          error.message,
          /no metadata context 'qemu:dirty-bitmap:gone' \(it offers: .*qemu:dirty-bitmap:b0/,
        );
        return true;
      },
    );
  });

  test('reads outside the export fail before they are sent; a closed client refuses', async () => {
    const client = await connect();
    await assert.rejects(client.read(SIZE - 10, 11), { code: 'EXTENTLOG_ERR_NBD_REQUEST' });
    await assert.rejects(client.blockStatus(-1, 10), { code: 'EXTENTLOG_ERR_NBD_REQUEST' });
    await client.close();
    await assert.rejects(client.read(0, 10), { code: 'EXTENTLOG_ERR_NBD_CLOSED' });
  });
});

describe('TCP with TLS (tls-creds-x509)', () => {
  let tlsServer: RunningNbdServer;
  let caCert: Buffer;
  before(async () => {
    const material = await makeTlsMaterial(path.join(tmp.dir, 'tls'));
    caCert = material.caCert;
    tlsServer = await startQemuNbd(cleanup, {
      image,
      format: 'qcow2',
      exportName: 'vm-disk',
      dir: tmp.dir,
      tlsDir: material.dir,
      tcp: true,
    });
  });

  test('reads over TLS equal the raw image', async () => {
    const client = await NbdClient.connect({
      address: tlsServer.address,
      exportName: 'vm-disk',
      tls: { ca: caCert },
    });
    assert.equal(sha256(await client.read(0, SIZE)), sha256(raw));
    await client.close();
  });

  test('without TLS settings the client says the server requires TLS', async () => {
    await assert.rejects(
      NbdClient.connect({ address: tlsServer.address, exportName: 'vm-disk' }),
      (error: NbdError) => {
        assert.equal(error.code, 'EXTENTLOG_ERR_NBD_TLS_REQUIRED');
        assert.match(error.message, /requires TLS .* configure tls/);
        return true;
      },
    );
  });

  test('a CA that did not sign the server certificate fails the TLS handshake', async () => {
    const other = await makeTlsMaterial(path.join(tmp.dir, 'other-ca'));
    await assert.rejects(
      NbdClient.connect({
        address: tlsServer.address,
        exportName: 'vm-disk',
        tls: { ca: other.caCert },
      }),
      (error: NbdError) => {
        assert.equal(error.code, 'EXTENTLOG_ERR_NBD_TLS');
        assert.match(error.message, /TLS handshake .* failed/);
        return true;
      },
    );
  });
});

function coalesce(
  descriptors: readonly { offsetBytes: number; lengthBytes: number; flags: number }[],
): [number, number, number][] {
  const out: [number, number, number][] = [];
  for (const { offsetBytes, lengthBytes, flags } of descriptors) {
    const last = out.at(-1);
    if (last !== undefined && last[2] === flags && last[0] + last[1] === offsetBytes)
      last[1] += lengthBytes;
    else out.push([offsetBytes, lengthBytes, flags]);
  }
  return out;
}
