/**
 * Serving a VMware snapshot's virtual disk over NBD for one cycle. In production that is
 * nbdkit with its VDDK plugin (nbdkit-vddk-plugin(1)): it opens the disk of the snapshot
 * through VMware's Virtual Disk Development Kit, over the NBD/NBDSSL transports of the
 * ESXi host (or SAN/HotAdd where the proxy can), read-only:
 *
 *   nbdkit --exit-with-parent --foreground --readonly --unix SOCKET vddk
 *     libdir=/opt/vmware-vix-disklib-distrib server=vcenter user=… password=+FILE
 *     thumbprint=AA:BB:… vm=moref=vm-42 snapshot=snapshot-7 file='[ds1] vm/vm.vmdk'
 *
 * A `command` with placeholders ({socket}, {vm}, {snapshot}, {file}, {diskKey}) serves any
 * other way (the test suite's emulator serves snapshots through nbdkit's nbd plugin). The
 * server runs until the cycle ends and is stopped by its PID.
 */
import { socketPathIn, startServerProcess, type ServerProcess } from '../server-process.js';

export type SnapshotReaderConfig =
  | { readonly type: 'command'; readonly command: readonly string[] }
  | {
      readonly type: 'nbdkit-vddk';
      /** Where VDDK is unpacked (vmware-vix-disklib-distrib). */
      readonly libdir: string;
      /** The ESXi host or vCenter VDDK connects to (default: the SOAP URL's host). */
      readonly server?: string;
      readonly user: string;
      /** A file holding the password (nbdkit reads it with password=+FILE). */
      readonly passwordFile: string;
      /** SHA-1 thumbprint of the server certificate. */
      readonly thumbprint: string;
      /** VDDK transports in order of preference, e.g. 'hotadd:nbdssl:nbd'. */
      readonly transports?: string;
      /** Extra nbdkit parameters (key=value). */
      readonly extraParameters?: readonly string[];
    };

export interface SnapshotTarget {
  readonly vm: string;
  readonly snapshot: string;
  readonly fileName: string;
  readonly diskKey: number;
  /** The SOAP endpoint's host, the default VDDK server. */
  readonly serverHost: string;
}

export interface SnapshotExport {
  readonly socketPath: string;
  readonly exportName: string;
  stop(): Promise<void>;
}

/** The command line that serves `target` on `socketPath`. */
export function snapshotExportCommand(
  config: SnapshotReaderConfig,
  target: SnapshotTarget,
  socketPath: string,
): string[] {
  if (config.type === 'command') {
    const values: Record<string, string> = {
      socket: socketPath,
      vm: target.vm,
      snapshot: target.snapshot,
      file: target.fileName,
      diskKey: String(target.diskKey),
    };
    return config.command.map((part) =>
      part.replace(/\{(socket|vm|snapshot|file|diskKey)\}/g, (_, name: string) => values[name]!),
    );
  }
  return [
    'nbdkit',
    '--exit-with-parent',
    '--foreground',
    '--readonly',
    '--unix',
    socketPath,
    'vddk',
    `libdir=${config.libdir}`,
    `server=${config.server ?? target.serverHost}`,
    `user=${config.user}`,
    `password=+${config.passwordFile}`,
    `thumbprint=${config.thumbprint}`,
    `vm=moref=${target.vm}`,
    `snapshot=${target.snapshot}`,
    `file=${target.fileName}`,
    ...(config.transports === undefined ? [] : [`transports=${config.transports}`]),
    ...(config.extraParameters ?? []),
  ];
}

export async function startSnapshotExport(
  config: SnapshotReaderConfig,
  target: SnapshotTarget,
  workDir: string,
): Promise<SnapshotExport> {
  const socketPath = socketPathIn(workDir, 'vmware');
  const [command, ...args] = snapshotExportCommand(config, target, socketPath);
  const server: ServerProcess = await startServerProcess({
    command: command!,
    args,
    listensOn: socketPath,
  });
  return { socketPath, exportName: '', stop: () => server.stop() };
}
