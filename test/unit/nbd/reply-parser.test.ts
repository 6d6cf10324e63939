/**
 * The transmission-phase parser against server bytes captured from qemu-nbd and nbdkit
 * (test/fixtures/nbd/), fed in chunks of every size and through the zero-copy path, and
 * against crafted replies that break the protocol in each way the client must notice.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import type { NbdError } from '../../../producers/nbd/errors.js';
import {
  ReplyParser,
  inFlightRequest,
  type InFlightRequest,
  type StatusDescriptor,
} from '../../../producers/nbd/reply-parser.js';
import {
  DONE,
  blockStatus,
  chunk,
  done,
  errorChunk,
  loadNbdFixture,
  offsetData,
  offsetHole,
  simpleReply,
  TYPE,
} from '../../support/nbd-replies.js';

const KiB = 1024;
const MiB = 1024 * KiB;

interface Harness {
  parser: ReplyParser;
  requests: Map<number, InFlightRequest>;
  outcomes: Map<number, Promise<'ok' | Error>>;
  fatal: NbdError[];
}

function harness(
  requests: readonly {
    handle: number;
    command: number;
    offsetBytes: number;
    lengthBytes: number;
  }[],
  contextIds: readonly number[] = [],
  structured = true,
): Harness {
  const table = new Map<number, InFlightRequest>();
  const outcomes = new Map<number, Promise<'ok' | Error>>();
  const fatal: NbdError[] = [];
  for (const spec of requests) {
    const { request, settled } = inFlightRequest({
      ...spec,
      buffer: spec.command === 0 ? Buffer.alloc(spec.lengthBytes, 0xee) : null,
    });
    outcomes.set(
      spec.handle,
      settled.then(
        () => 'ok' as const,
        (error: Error) => error,
      ),
    );
    table.set(spec.handle, request);
  }
  const all = new Map(table);
  const parser = new ReplyParser({
    peer: 'test',
    structured,
    contextIds: new Set(contextIds),
    request: (handle) => table.get(handle),
    done: (request) => table.delete(request.handle),
    fatal: (error) => {
      fatal.push(error);
      for (const request of table.values()) request.reject(error);
      table.clear();
    },
  });
  return { parser, requests: all, outcomes, fatal };
}

function feedInChunks(parser: ReplyParser, bytes: Buffer, size: number): void {
  for (let at = 0; at < bytes.length; at += size) parser.bytes(bytes.subarray(at, at + size));
}

/** What the transport does with onread: data straight into directTarget(), the rest via a scratch. */
function feedZeroCopy(parser: ReplyParser, bytes: Buffer, readBytes: number): void {
  const scratch = Buffer.alloc(readBytes);
  let at = 0;
  while (at < bytes.length) {
    const target = parser.directTarget();
    const into = target ?? scratch;
    const n = Math.min(into.length, readBytes, bytes.length - at);
    bytes.copy(into, 0, at, at + n);
    at += n;
    if (target !== null) parser.directBytes(n);
    else parser.bytes(scratch.subarray(0, n));
  }
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe('qemu-nbd replies (captured)', async () => {
  const fixture = await loadNbdFixture('qemu-nbd.json');
  const replies = Buffer.from(fixture.repliesBase64, 'base64');
  const requests = fixture.requests.filter((request) => request.command !== 2);
  const contextIds = Object.values(fixture.metaContexts);
  const idOf = (name: string) => fixture.metaContexts[name]!;

  async function check(h: Harness): Promise<void> {
    assert.deepEqual(h.fatal, []);
    for (const [handle, outcome] of h.outcomes)
      assert.equal(await outcome, 'ok', `handle ${handle}`);
    for (const request of h.requests.values()) {
      if (request.command === 0)
        assert.equal(sha256(request.buffer!), fixture.readSha256[String(request.handle)]);
    }
    const whole = [...h.requests.values()].find((r) => r.command === 7 && r.offsetBytes === 0)!;
    const plain = (descriptors: StatusDescriptor[] | undefined) =>
      descriptors?.map(({ offsetBytes, lengthBytes, flags }) => [offsetBytes, lengthBytes, flags]);
    // data [0, 1M), zero clusters [2M, 3M), data [4M, 4.5M), the rest unallocated
    assert.deepEqual(plain(whole.statuses.get(idOf('base:allocation'))), [
      [0, MiB, 0],
      [MiB, 3 * MiB, 3],
      [4 * MiB, 512 * KiB, 0],
      [4 * MiB + 512 * KiB, 3.5 * MiB, 3],
    ]);
    assert.deepEqual(plain(whole.statuses.get(idOf('qemu:dirty-bitmap:b0'))), [
      [0, 4 * MiB, 0],
      [4 * MiB, 512 * KiB, 1],
      [4 * MiB + 512 * KiB, 3.5 * MiB, 0],
    ]);
  }

  for (const size of [1, 3, 19, 20, 21, 4096, 65536, replies.length]) {
    test(`in ${size}-byte chunks`, async () => {
      const h = harness(requests, contextIds);
      feedInChunks(h.parser, replies, size);
      await check(h);
    });
  }

  for (const readBytes of [7, 1000, 64 * KiB]) {
    test(`through zero-copy reads of ${readBytes} bytes`, async () => {
      const h = harness(requests, contextIds);
      feedZeroCopy(h.parser, replies, readBytes);
      await check(h);
    });
  }

  test('a wrong reply magic is a protocol violation', async () => {
    const h = harness(requests, contextIds);
    const broken = Buffer.from(replies);
    broken.writeUInt32BE(0x12345678, 0);
    h.parser.bytes(broken);
    assert.equal(h.fatal.length, 1);
    assert.equal(h.fatal[0]!.code, 'EXTENTLOG_ERR_NBD_PROTOCOL');
    assert.match(h.fatal[0]!.message, /expected a reply magic .* received 0x12345678/);
    for (const outcome of h.outcomes.values())
      assert.equal(((await outcome) as NbdError).code, 'EXTENTLOG_ERR_NBD_PROTOCOL');
  });

  test('a reply for a handle no request has is a protocol violation', async () => {
    const h = harness(requests, contextIds);
    const broken = Buffer.from(replies);
    broken.writeUInt32BE(99, 12);
    h.parser.bytes(broken);
    assert.match(h.fatal[0]!.message, /handle 0x0000000000000063, which no request in flight has/);
  });

  test('an unknown structured reply type is a protocol violation', async () => {
    const h = harness(requests, contextIds);
    const broken = Buffer.from(replies);
    broken.writeUInt16BE(3, 6);
    h.parser.bytes(broken);
    assert.match(h.fatal[0]!.message, /unknown structured reply type 3/);
  });

  test('a connection that ends inside a reply fails every request as disconnected', async () => {
    const h = harness(requests, contextIds);
    h.parser.bytes(replies.subarray(0, 5000));
    h.parser.ended(null);
    assert.equal(h.fatal[0]!.code, 'EXTENTLOG_ERR_NBD_DISCONNECTED');
    assert.equal(h.fatal[0]!.retriable, true);
    assert.match(
      h.fatal[0]!.message,
      /in the middle of a reply \(\d+ of \d+ data bytes of NBD_CMD_READ/,
    );
  });
});

describe('nbdkit error replies (captured)', () => {
  test('EIO from the error filter fails the read, retriably, and keeps the connection', async () => {
    const fixture = await loadNbdFixture('nbdkit-eio.json');
    const requests = fixture.requests.filter((request) => request.command !== 2);
    const h = harness(requests);
    h.parser.bytes(Buffer.from(fixture.repliesBase64, 'base64'));
    const error = (await h.outcomes.get(1)!) as NbdError;
    assert.equal(error.code, 'EXTENTLOG_ERR_NBD_SERVER');
    assert.equal(error.details.errno, 'EIO');
    assert.equal(error.retriable, true);
    assert.match(error.message, /NBD_CMD_READ of 65536 bytes at offset 0 failed with EIO/);
    assert.deepEqual(h.fatal, []);
  });
});

describe('crafted replies', () => {
  const read = (handle: number, offsetBytes: number, lengthBytes: number) => ({
    handle,
    command: 0,
    offsetBytes,
    lengthBytes,
  });

  test('data and hole chunks in any order fill the buffer', async () => {
    const h = harness([read(1, 4096, 12288)]);
    h.parser.bytes(
      Buffer.concat([
        offsetData(1, 12288, Buffer.alloc(4096, 3)),
        offsetHole(1, 8192, 4096),
        offsetData(1, 4096, Buffer.alloc(4096, 1), DONE),
      ]),
    );
    assert.equal(await h.outcomes.get(1), 'ok');
    const buffer = h.requests.get(1)!.buffer!;
    assert.deepEqual(
      [buffer[0], buffer[4095], buffer[4096], buffer[8191], buffer[8192]],
      [1, 1, 0, 0, 3],
    );
  });

  test('a READ reply that ends without covering its range is a short read', async () => {
    const h = harness([read(1, 0, 8192)]);
    h.parser.bytes(offsetData(1, 0, Buffer.alloc(4096), DONE));
    const error = (await h.outcomes.get(1)!) as NbdError;
    assert.equal(error.code, 'EXTENTLOG_ERR_NBD_PROTOCOL');
    assert.match(error.message, /ended after 4096 bytes \(short read\)/);
  });

  test('overlapping content chunks are a protocol violation', async () => {
    const h = harness([read(1, 0, 8192)]);
    h.parser.bytes(
      Buffer.concat([offsetData(1, 0, Buffer.alloc(4096)), offsetHole(1, 2048, 4096)]),
    );
    assert.match(h.fatal[0]!.message, /overlaps an earlier chunk/);
  });

  test('a chunk outside its request is a protocol violation', async () => {
    const h = harness([read(1, 4096, 4096)]);
    h.parser.bytes(offsetData(1, 0, Buffer.alloc(4096)));
    assert.match(
      h.fatal[0]!.message,
      /\[0, 4096\) outside NBD_CMD_READ of 4096 bytes at offset 4096/,
    );
  });

  test('a simple reply to a READ under structured replies is a protocol violation', async () => {
    const h = harness([read(7, 0, 512)]);
    h.parser.bytes(simpleReply(7, 0));
    assert.match(h.fatal[0]!.message, /simple reply to NBD_CMD_READ/);
  });

  test('simple replies carry the data of a READ when structured replies are off', async () => {
    const h = harness([read(7, 0, 512)], [], false);
    h.parser.bytes(Buffer.concat([simpleReply(7, 0), Buffer.alloc(512, 9)]));
    assert.equal(await h.outcomes.get(7), 'ok');
    assert.equal(h.requests.get(7)!.buffer![511], 9);
  });

  for (const [errno, name, retriable] of [
    [5, 'EIO', true],
    [22, 'EINVAL', false],
    [28, 'ENOSPC', false],
    [75, 'EOVERFLOW', false],
    [108, 'ESHUTDOWN', true],
    [9999, 'E9999', false],
  ] as const) {
    test(`error value ${errno} becomes ${name}${retriable ? ' (retriable)' : ''}`, async () => {
      const h = harness([read(2, 0, 4096)]);
      h.parser.bytes(errorChunk(2, errno, 'from the server'));
      const error = (await h.outcomes.get(2)!) as NbdError;
      assert.equal(error.code, 'EXTENTLOG_ERR_NBD_SERVER');
      assert.equal(error.details.errno, name);
      assert.equal(error.retriable, retriable);
      assert.match(error.message, /the server said: from the server/);
      assert.deepEqual(h.fatal, [], 'an error chunk does not end the connection');
    });
  }

  test('an error chunk whose message does not fit is a protocol violation', async () => {
    const h = harness([read(2, 0, 4096)]);
    const bad = errorChunk(2, 5, 'abc');
    bad.writeUInt16BE(200, 24);
    h.parser.bytes(bad);
    assert.match(h.fatal[0]!.message, /message of 200 bytes does not fit/);
  });

  test('block status for a context that was not negotiated is a protocol violation', async () => {
    const h = harness([{ handle: 3, command: 7, offsetBytes: 0, lengthBytes: 65536 }], [1]);
    h.parser.bytes(blockStatus(3, 2, [[65536, 0]], DONE));
    assert.match(h.fatal[0]!.message, /metadata context id 2, which was not negotiated/);
  });

  test('block status descriptors past the request are clipped to it', async () => {
    const h = harness([{ handle: 3, command: 7, offsetBytes: 0, lengthBytes: 65536 }], [1]);
    h.parser.bytes(
      blockStatus(
        3,
        1,
        [
          [32768, 1],
          [65536, 0],
        ],
        DONE,
      ),
    );
    assert.equal(await h.outcomes.get(3), 'ok');
    assert.deepEqual(h.requests.get(3)!.statuses.get(1), [
      { offsetBytes: 0, lengthBytes: 32768, flags: 1 },
      { offsetBytes: 32768, lengthBytes: 32768, flags: 0 },
    ]);
  });

  test('a NONE chunk without the done flag is a protocol violation', async () => {
    const h = harness([read(1, 0, 512)]);
    h.parser.bytes(chunk({ handle: 1, type: TYPE.NONE }));
    assert.match(h.fatal[0]!.message, /NBD_REPLY_TYPE_NONE chunk without NBD_REPLY_FLAG_DONE/);
  });

  test('replies to requests in flight may come in any order', async () => {
    const h = harness([read(1, 0, 512), read(2, 512, 512)]);
    h.parser.bytes(Buffer.concat([offsetData(2, 512, Buffer.alloc(512, 2)), done(2)]));
    assert.equal(await h.outcomes.get(2), 'ok');
    h.parser.bytes(offsetData(1, 0, Buffer.alloc(512, 1), DONE));
    assert.equal(await h.outcomes.get(1), 'ok');
  });
});
