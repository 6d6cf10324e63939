/**
 * Runs a real iSCSI target for tests and benchmarks: tgtd (Debian `tgt`) in the foreground on
 * 127.0.0.1, configured through tgtadm. Each instance takes its own control port (`-C`, the
 * socket /var/run/tgtd/socket.<N>) and iSCSI port, so test files run side by side.
 *
 *   const tgtd = await Tgtd.start(logDir);
 *   await tgtd.addTarget({ tid: 1, iqn, luns: [{ lun: 1, backingPath, thinProvisioning: true }],
 *                          chap: { username, secret }, mutualChap: { username, secret } });
 *   …
 *   await tgtd.stop();        // deletes LUNs and targets, then `--mode sys --op delete`
 *
 * `kill()` and `restart()` simulate a target crash: the process dies with SIGKILL and a new one
 * is started on the same ports with the same targets (tgtd keeps no configuration of its own).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, open, readFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { eventually } from '../support/eventually.js';

const run = promisify(execFile);
const RUN_DIR = '/var/run/tgtd';

export interface TgtLun {
  readonly lun: number;
  /** A regular file (sparse is fine) that becomes the LUN. */
  readonly backingPath: string;
  /** LBPME: UNMAP/WRITE SAME punch holes, GET LBA STATUS reports them. */
  readonly thinProvisioning?: boolean;
}

export interface TgtCredentials {
  readonly username: string;
  readonly secret: string;
}

export interface TgtTarget {
  readonly tid: number;
  readonly iqn: string;
  readonly luns: readonly TgtLun[];
  /** One-way CHAP: the initiator must log in with these. */
  readonly chap?: TgtCredentials;
  /** Mutual CHAP: the target answers the initiator's challenge with these. */
  readonly mutualChap?: TgtCredentials;
}

/** A TCP port nobody listens on right now (127.0.0.1). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export class Tgtd {
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private readonly targets = new Map<number, TgtTarget>();

  private constructor(
    readonly controlPort: number,
    readonly port: number,
    private readonly logPath: string,
  ) {}

  /** host:port of the iSCSI portal. */
  get portal(): string {
    return `127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts tgtd on a fresh control port and iSCSI port; its log goes to `logDir`. */
  static async start(logDir: string): Promise<Tgtd> {
    await mkdir(RUN_DIR, { recursive: true });
    let lastError: unknown;
    for (let attempt = 0; attempt < 5; attempt++) {
      const controlPort = 1000 + Math.floor(Math.random() * 50_000);
      const tgtd = new Tgtd(
        controlPort,
        await freePort(),
        path.join(logDir, `tgtd-${controlPort}.log`),
      );
      try {
        await tgtd.launch();
        return tgtd;
      } catch (error) {
        lastError = error;
        await tgtd.kill();
      }
    }
    throw lastError;
  }

  private async launch(): Promise<void> {
    const log = await open(this.logPath, 'a');
    const child = spawn(
      'tgtd',
      ['-f', '-C', String(this.controlPort), '--iscsi', `portal=${this.portal}`],
      { stdio: ['ignore', log.fd, log.fd] },
    );
    // Listen before anything is awaited: a tgtd that fails at once exits in the meantime.
    let gone = false;
    this.exited = new Promise((resolve) =>
      child.once('exit', () => {
        gone = true;
        resolve();
      }),
    );
    this.child = child;
    await log.close();
    await eventually(
      `tgtd -C ${this.controlPort} to accept tgtadm and listen on ${this.portal}`,
      async () => {
        if (gone)
          throw new Error(
            `tgtd exited at start-up: ${(await readFile(this.logPath, 'utf8').catch(() => '')).slice(-1000)}`,
          );
        try {
          await this.tgtadm('--mode', 'sys', '--op', 'show');
          await new Promise<void>((resolve, reject) => {
            const socket = net.connect(this.port, '127.0.0.1', () => {
              socket.destroy();
              resolve();
            });
            socket.once('error', reject);
          });
          return true;
        } catch {
          return undefined;
        }
      },
      10_000,
    );
  }

  /** Runs tgtadm against this instance; rejects with its stderr on failure. */
  async tgtadm(...args: string[]): Promise<string> {
    try {
      const { stdout } = await run('tgtadm', ['-C', String(this.controlPort), ...args]);
      return stdout;
    } catch (error) {
      const { stderr } = error as { stderr?: string };
      throw new Error(`tgtadm ${args.join(' ')} failed: ${stderr ?? String(error)}`);
    }
  }

  async addTarget(target: TgtTarget): Promise<void> {
    this.targets.set(target.tid, target);
    await this.configure(target);
  }

  private async configure(target: TgtTarget): Promise<void> {
    const tid = String(target.tid);
    const lld = ['--lld', 'iscsi'];
    await this.tgtadm(...lld, '--op', 'new', '--mode', 'target', '--tid', tid, '-T', target.iqn);
    for (const lun of target.luns) await this.addLunTo(target.tid, lun);
    await this.tgtadm(...lld, '--op', 'bind', '--mode', 'target', '--tid', tid, '-I', 'ALL');
    if (target.chap !== undefined) await this.bindAccount(target.tid, target.chap);
    if (target.mutualChap !== undefined)
      await this.bindAccount(target.tid, target.mutualChap, true);
  }

  private async addLunTo(tid: number, lun: TgtLun): Promise<void> {
    const base = ['--lld', 'iscsi', '--mode', 'logicalunit', '--tid', String(tid), '--lun'];
    await this.tgtadm(...base, String(lun.lun), '--op', 'new', '-b', lun.backingPath);
    if (lun.thinProvisioning === true)
      await this.tgtadm(
        ...base,
        String(lun.lun),
        '--op',
        'update',
        '--params',
        'thin_provisioning=1',
      );
  }

  /** Adds a LUN to a target that exists. */
  async addLun(tid: number, lun: TgtLun): Promise<void> {
    const target = this.targets.get(tid);
    if (target === undefined) throw new Error(`no target ${tid}`);
    this.targets.set(tid, { ...target, luns: [...target.luns, lun] });
    await this.addLunTo(tid, lun);
  }

  async removeLun(tid: number, lun: number): Promise<void> {
    const target = this.targets.get(tid);
    if (target !== undefined)
      this.targets.set(tid, { ...target, luns: target.luns.filter((entry) => entry.lun !== lun) });
    await this.tgtadm(
      '--lld',
      'iscsi',
      '--mode',
      'logicalunit',
      '--op',
      'delete',
      '--tid',
      String(tid),
      '--lun',
      String(lun),
    );
  }

  /** Creates a CHAP account (if new) and binds it to a target; `outgoing` for mutual CHAP. */
  async bindAccount(tid: number, account: TgtCredentials, outgoing = false): Promise<void> {
    const lld = ['--lld', 'iscsi', '--mode', 'account'];
    const known = await this.tgtadm(...lld, '--op', 'show');
    if (!known.split('\n').some((line) => line.trim() === account.username))
      await this.tgtadm(
        ...lld,
        '--op',
        'new',
        '--user',
        account.username,
        '--password',
        account.secret,
      );
    await this.tgtadm(
      ...lld,
      '--op',
      'bind',
      '--tid',
      String(tid),
      '--user',
      account.username,
      ...(outgoing ? ['--outgoing'] : []),
    );
    const target = this.targets.get(tid);
    if (target !== undefined)
      this.targets.set(
        tid,
        outgoing ? { ...target, mutualChap: account } : { ...target, chap: account },
      );
  }

  /** Unbinds a CHAP account from a target and deletes it. */
  async removeAccount(tid: number, username: string): Promise<void> {
    const lld = ['--lld', 'iscsi', '--mode', 'account'];
    await this.tgtadm(...lld, '--op', 'unbind', '--tid', String(tid), '--user', username).catch(
      () => undefined,
    );
    await this.tgtadm(...lld, '--op', 'delete', '--user', username);
    const target = this.targets.get(tid);
    if (target?.chap?.username === username) {
      const { chap: _chap, ...rest } = target;
      this.targets.set(tid, rest);
    }
  }

  /** Deletes a target's LUNs, then the target (with --force: sessions may be open). */
  async removeTarget(tid: number): Promise<void> {
    const target = this.targets.get(tid);
    this.targets.delete(tid);
    if (target === undefined) return;
    const base = ['--lld', 'iscsi', '--tid', String(tid)];
    for (const lun of target.luns)
      await this.tgtadm(
        ...base,
        '--mode',
        'logicalunit',
        '--op',
        'delete',
        '--lun',
        String(lun.lun),
      ).catch(() => undefined);
    await this.tgtadm(...base, '--mode', 'target', '--op', 'delete', '--force');
  }

  /** SIGKILL: the target vanishes mid-command, as in a crash. */
  async kill(): Promise<void> {
    const child = this.child;
    if (child === null) return;
    this.child = null;
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await this.exited;
  }

  /** Starts tgtd again on the same ports and re-creates every target. */
  async restart(): Promise<void> {
    await this.kill();
    await eventually(
      `port ${this.port} to be free after tgtd died`,
      async () => ((await portFree(this.port)) ? true : undefined),
      10_000,
    );
    // The ports were free a moment ago; a start that loses a race for them is tried again.
    for (let attempt = 1; ; attempt++) {
      try {
        await this.launch();
        break;
      } catch (error) {
        await this.kill();
        if (attempt >= 5) throw error;
        await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
      }
    }
    for (const target of this.targets.values()) await this.configure(target);
  }

  /**
   * Deletes LUNs and targets, asks tgtd to stop (`--mode sys --op delete`) and waits for its
   * PID to exit; SIGKILL after 5 s.
   */
  async stop(): Promise<void> {
    const child = this.child;
    if (child === null) return;
    for (const tid of [...this.targets.keys()]) await this.removeTarget(tid).catch(() => undefined);
    // tgtd takes its signals through a signalfd and ignores SIGTERM: it stops on request.
    await this.tgtadm('--mode', 'sys', '--op', 'delete').catch(() => undefined);
    this.child = null;
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await this.exited;
    clearTimeout(timer);
  }
}

async function portFree(port: number): Promise<boolean> {
  const server = net.createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}
