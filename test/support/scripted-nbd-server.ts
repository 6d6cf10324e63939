/**
 * An NBD server that says exactly what a test scripts, for the misbehaviour no real server
 * shows on demand: wrong magics, refused options, replies that break off. It can replay a
 * real server's captured handshake (test/fixtures/nbd/) so that only the part under test is
 * made up. Listens on a unix socket; closed when the test ends.
 */
import net from 'node:net';
import path from 'node:path';
import { HandshakeInput } from '../../producers/nbd/handshake-input.js';
import type { NbdFixture } from '../fixtures/nbd/capture.js';
import type { Cleanup } from './nbd-servers.js';

const OPTS_MAGIC = 0x49484156454f5054n;
const OPT_REPLY_MAGIC = 0x3e889045565a9n;
const REQUEST_MAGIC = 0x25609513;
const OPT_GO = 7;
const OPT_EXPORT_NAME = 1;

export interface ClientOption {
  readonly option: number;
  readonly data: Buffer;
}

export interface ClientRequest {
  readonly handle: number;
  readonly command: number;
  readonly offsetBytes: number;
  readonly lengthBytes: number;
}

export interface ScriptedSession {
  send(bytes: Buffer): void;
  /** The greeting: NBDMAGIC, IHAVEOPT, handshake flags (fixed newstyle + no zeroes). */
  greet(flags?: number): void;
  clientFlags(): Promise<number>;
  nextOption(): Promise<ClientOption>;
  optionReply(option: number, type: number, data?: Buffer): void;
  /** Sends a captured handshake and reads the client's options up to NBD_OPT_GO. */
  replayHandshake(fixture: NbdFixture): Promise<void>;
  nextRequest(): Promise<ClientRequest>;
  /** Drops the connection. */
  close(): void;
}

export async function startScriptedNbdServer(
  cleanup: Cleanup,
  dir: string,
  script: (session: ScriptedSession) => Promise<void>,
): Promise<{ socketPath: string; failures: unknown[] }> {
  const socketPath = path.join(dir, `scripted-${Math.random().toString(16).slice(2)}.sock`);
  const failures: unknown[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    const input = new HandshakeInput('test client');
    socket.on('data', (chunk: Buffer) => input.bytes(chunk));
    socket.on('end', () => input.ended(null));
    socket.on('error', () => input.ended(null));
    const session: ScriptedSession = {
      send: (bytes) => void socket.write(bytes),
      greet(flags = 3) {
        const greeting = Buffer.alloc(18);
        greeting.write('NBDMAGIC', 0, 'latin1');
        greeting.writeBigUInt64BE(OPTS_MAGIC, 8);
        greeting.writeUInt16BE(flags, 16);
        socket.write(greeting);
      },
      clientFlags: async () => (await input.read(4)).readUInt32BE(0),
      async nextOption() {
        const header = await input.read(16);
        if (header.readBigUInt64BE(0) !== OPTS_MAGIC) throw new Error('client sent no IHAVEOPT');
        const lengthBytes = header.readUInt32BE(12);
        return {
          option: header.readUInt32BE(8),
          data: lengthBytes === 0 ? Buffer.alloc(0) : await input.read(lengthBytes),
        };
      },
      optionReply(option, type, data = Buffer.alloc(0)) {
        const header = Buffer.alloc(20);
        header.writeBigUInt64BE(OPT_REPLY_MAGIC, 0);
        header.writeUInt32BE(option, 8);
        header.writeUInt32BE(type, 12);
        header.writeUInt32BE(data.length, 16);
        socket.write(Buffer.concat([header, data]));
      },
      async replayHandshake(fixture) {
        socket.write(Buffer.from(fixture.handshakeBase64, 'base64'));
        await session.clientFlags();
        for (;;) {
          const { option } = await session.nextOption();
          if (option === OPT_GO || option === OPT_EXPORT_NAME) return;
        }
      },
      async nextRequest() {
        const header = await input.read(28);
        if (header.readUInt32BE(0) !== REQUEST_MAGIC)
          throw new Error('client sent no request magic');
        return {
          command: header.readUInt16BE(6),
          handle: header.readUInt32BE(12),
          offsetBytes: Number(header.readBigUInt64BE(16)),
          lengthBytes: header.readUInt32BE(24),
        };
      },
      close: () => socket.destroy(),
    };
    script(session).catch((error: unknown) => {
      failures.push(error);
      socket.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  cleanup(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  return { socketPath, failures };
}
