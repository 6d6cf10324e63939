/**
 * qemu-storage-daemon (Debian qemu-system-x86) standing in for a running VM: a disk image
 * as block node `disk0`, a QMP monitor on a unix socket, and optionally an NBD server with
 * a writable export `rw` through which tests write the way a guest would (qemu-io on an
 * nbd+unix URL). Stopped by its PID: `stop()` is a clean shutdown that saves persistent
 * bitmaps, `kill()` a crash that leaves them inconsistent.
 */
import path from 'node:path';
import {
  socketAccepts,
  startServerProcess,
  type ServerProcess,
} from '../../producers/server-process.js';
import type { Cleanup } from './nbd-servers.js';
import { qemuIo } from './qemu-images.js';

export interface StorageDaemon {
  readonly process: ServerProcess;
  readonly qmpSocket: string;
  /** The NBD server socket, when started with one. */
  readonly nbdSocket: string | null;
  /** Writes through the writable export `rw` (needs the NBD server). */
  write(commands: readonly string[]): Promise<void>;
  /** The `rw` export as an nbd+unix URL (for qemu-img convert, qemu-io). */
  readonly rwUrl: string;
}

export async function startStorageDaemon(
  cleanup: Cleanup,
  options: {
    readonly image: string;
    readonly dir: string;
    /** Start an NBD server with the writable export `rw` (default true). */
    readonly nbdServer?: boolean;
    readonly name?: string;
    /** The image's format: qcow2 (default), vmdk, raw. */
    readonly format?: string;
  },
): Promise<StorageDaemon> {
  const name = options.name ?? 'qsd';
  const qmpSocket = path.join(options.dir, `${name}-qmp.sock`);
  const nbdSocket = options.nbdServer === false ? null : path.join(options.dir, `${name}-nbd.sock`);
  const args = [
    '--blockdev',
    `driver=file,filename=${options.image},node-name=file0`,
    '--blockdev',
    `driver=${options.format ?? 'qcow2'},file=file0,node-name=disk0`,
    '--chardev',
    `socket,path=${qmpSocket},server=on,wait=off,id=qmp0`,
    '--monitor',
    'chardev=qmp0',
  ];
  if (nbdSocket !== null)
    args.push(
      '--nbd-server',
      `addr.type=unix,addr.path=${nbdSocket}`,
      '--export',
      'type=nbd,id=rw,node-name=disk0,name=rw,writable=on',
    );
  const sockets = [qmpSocket, ...(nbdSocket === null ? [] : [nbdSocket])];
  const process = await startServerProcess({
    command: 'qemu-storage-daemon',
    args,
    listensOn: qmpSocket,
    ready: async () => (await Promise.all(sockets.map(socketAccepts))).every(Boolean),
  });
  cleanup(() => process.stop());
  const rwUrl = `nbd+unix:///rw?socket=${nbdSocket ?? ''}`;
  return {
    process,
    qmpSocket,
    nbdSocket,
    rwUrl,
    write: (commands) => qemuIo(rwUrl, commands, 'raw'),
  };
}
