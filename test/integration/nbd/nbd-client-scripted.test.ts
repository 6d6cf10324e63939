/**
 * The NBD client against a scripted server, for what real servers do not do on demand: a
 * peer that is not NBD, oldstyle negotiation, malformed option replies, a server without
 * NBD_OPT_GO (fallback to NBD_OPT_EXPORT_NAME), and — after replaying qemu-nbd's real
 * handshake — a reply broken off in the middle of its data or carrying a wrong handle.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { NbdClient } from '../../../producers/nbd/nbd-client.js';
import type { NbdError } from '../../../producers/nbd/errors.js';
import { loadNbdFixture, offsetData, DONE } from '../../support/nbd-replies.js';
import { startScriptedNbdServer, type ScriptedSession } from '../../support/scripted-nbd-server.js';
import { makeTempDir } from '../../support/temp-dir.js';

let tmp: { dir: string; remove: () => Promise<void> };
const cleanups: (() => Promise<unknown> | unknown)[] = [];
const cleanup = (fn: () => Promise<unknown> | unknown) => cleanups.push(fn);

before(async () => {
  tmp = await makeTempDir('nbd-scripted');
});
after(async () => {
  for (const fn of cleanups.reverse()) await fn();
  await tmp.remove();
});

async function serve(script: (session: ScriptedSession) => Promise<void>) {
  const server = await startScriptedNbdServer(cleanup, tmp.dir, script);
  return { address: { socketPath: server.socketPath }, failures: server.failures };
}

const REP_ERR_UNSUP = 0x80000001;
const OPT_STRUCTURED_REPLY = 8;
const OPT_GO = 7;

test('a peer that is not an NBD server', async () => {
  const { address } = await serve(async (session) => {
    session.send(Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n'));
  });
  await assert.rejects(NbdClient.connect({ address, exportName: '' }), (error: NbdError) => {
    assert.equal(error.code, 'EXTENTLOG_ERR_NBD_HANDSHAKE');
    assert.match(error.message, /expected the NBD greeting 'NBDMAGIC'.*is this an NBD server\?/);
    return true;
  });
});

test('an oldstyle server', async () => {
  const { address } = await serve(async (session) => {
    const greeting = Buffer.alloc(152);
    greeting.write('NBDMAGIC', 0, 'latin1');
    greeting.writeBigUInt64BE(0x00420281861253n, 8);
    session.send(greeting);
  });
  await assert.rejects(NbdClient.connect({ address, exportName: '' }), /oldstyle negotiation/);
});

test('a server without fixed newstyle', async () => {
  const { address } = await serve(async (session) => session.greet(0));
  await assert.rejects(
    NbdClient.connect({ address, exportName: '' }),
    /does not offer fixed newstyle/,
  );
});

test('an option reply with a wrong magic', async () => {
  const { address } = await serve(async (session) => {
    session.greet();
    await session.clientFlags();
    await session.nextOption();
    session.send(Buffer.alloc(20, 0xab));
  });
  await assert.rejects(NbdClient.connect({ address, exportName: '' }), (error: NbdError) => {
    assert.equal(error.code, 'EXTENTLOG_ERR_NBD_HANDSHAKE');
    assert.match(
      error.message,
      /expected the option reply magic 0x3e889045565a9 in reply to NBD_OPT_STRUCTURED_REPLY/,
    );
    return true;
  });
});

test('a server that stays silent fails the handshake at the deadline', async () => {
  const { address } = await serve(async () => undefined);
  await assert.rejects(
    NbdClient.connect({ address, exportName: '', connectTimeoutMs: 300 }),
    (error: NbdError) => {
      assert.equal(error.code, 'EXTENTLOG_ERR_NBD_CONNECT');
      assert.equal(error.retriable, true);
      assert.match(error.message, /did not complete the handshake within 300 ms/);
      return true;
    },
  );
});

test('metadata contexts from a server without structured replies are refused', async () => {
  const { address } = await serve(async (session) => {
    session.greet();
    await session.clientFlags();
    const { option } = await session.nextOption();
    session.optionReply(option, REP_ERR_UNSUP);
    await session.nextOption(); // NBD_OPT_ABORT
  });
  await assert.rejects(
    NbdClient.connect({ address, exportName: '', metaContexts: ['base:allocation'] }),
    { code: 'EXTENTLOG_ERR_NBD_UNSUPPORTED' },
  );
});

test('without NBD_OPT_GO the client falls back to NBD_OPT_EXPORT_NAME and reads', async () => {
  const { address, failures } = await serve(async (session) => {
    session.greet();
    await session.clientFlags();
    assert.equal((await session.nextOption()).option, OPT_STRUCTURED_REPLY);
    session.optionReply(OPT_STRUCTURED_REPLY, 1);
    const go = await session.nextOption();
    assert.equal(go.option, OPT_GO);
    session.optionReply(OPT_GO, REP_ERR_UNSUP);
    const exportName = await session.nextOption();
    assert.equal(exportName.option, 1);
    assert.equal(exportName.data.toString(), 'legacy');
    const answer = Buffer.alloc(10);
    answer.writeBigUInt64BE(8192n, 0);
    answer.writeUInt16BE(1 | 2, 8); // has flags, read-only
    session.send(answer);
    const request = await session.nextRequest();
    session.send(
      offsetData(request.handle, request.offsetBytes, Buffer.alloc(request.lengthBytes, 5), DONE),
    );
    await session.nextRequest(); // NBD_CMD_DISC
  });
  const client = await NbdClient.connect({ address, exportName: 'legacy' });
  assert.equal(client.sizeBytes, 8192);
  assert.equal(client.export.readOnly, true);
  assert.ok((await client.read(4096, 4096)).equals(Buffer.alloc(4096, 5)));
  await client.close();
  assert.deepEqual(failures, []);
});

test('a reply broken off in the middle of its data fails as disconnected', async () => {
  const fixture = await loadNbdFixture('qemu-nbd.json');
  const { address } = await serve(async (session) => {
    await session.replayHandshake(fixture);
    const request = await session.nextRequest();
    const chunk = offsetData(
      request.handle,
      request.offsetBytes,
      Buffer.alloc(request.lengthBytes, 1),
      DONE,
    );
    session.send(chunk.subarray(0, 28 + 1000));
    session.close();
  });
  const client = await NbdClient.connect({
    address,
    exportName: fixture.exportName,
    metaContexts: Object.keys(fixture.metaContexts),
  });
  await assert.rejects(client.read(0, 65536), (error: NbdError) => {
    assert.equal(error.code, 'EXTENTLOG_ERR_NBD_DISCONNECTED');
    assert.equal(error.retriable, true);
    assert.match(
      error.message,
      /in the middle of a reply \(1000 of 65536 data bytes of NBD_CMD_READ of 65536 bytes at offset 0/,
    );
    return true;
  });
});

test('a reply with a handle nobody sent fails every request in flight', async () => {
  const fixture = await loadNbdFixture('qemu-nbd.json');
  const { address } = await serve(async (session) => {
    await session.replayHandshake(fixture);
    const first = await session.nextRequest();
    await session.nextRequest();
    session.send(
      offsetData(first.handle + 1000, first.offsetBytes, Buffer.alloc(first.lengthBytes), DONE),
    );
  });
  const client = await NbdClient.connect({
    address,
    exportName: fixture.exportName,
    metaContexts: Object.keys(fixture.metaContexts),
  });
  const results = await Promise.allSettled([client.read(0, 4096), client.read(4096, 4096)]);
  for (const result of results) {
    assert.equal(result.status, 'rejected');
    const error = (result as PromiseRejectedResult).reason as NbdError;
    assert.equal(error.code, 'EXTENTLOG_ERR_NBD_PROTOCOL');
    assert.match(error.message, /which no request in flight has/);
  }
});
