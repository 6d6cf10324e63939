/**
 * A single-node Ceph cluster for the RBD tests of one file (test/peers/ceph.sh, without
 * radosgw; `auth = none` unless cephx is asked for), started in `before` and stopped in
 * `after`, with its own directory and ports so that files run concurrently. ~10 s to start,
 * ~180 MB of memory. `rbd()` runs the `rbd` command against it.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
// dist/test/support → the checkout's test/peers/ceph.sh
const script = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../test/peers/ceph.sh',
);

export interface RbdCluster {
  readonly dir: string;
  readonly confPath: string;
  /** client.admin's key file (`ceph.keyring` format), used when the cluster runs cephx. */
  readonly keyringPath: string;
  /** The monitor's address vector, as `mon_host` takes it (`[v2:…,v1:…]`). */
  readonly monHosts: readonly string[];
  /** Runs `rbd <args>` against the cluster; rejects with its stderr. */
  rbd(args: readonly string[], options?: { input?: Buffer }): Promise<string>;
  /** Writes `totalBytes` in 64 KiB writes with `rbd bench` (sequential or random offsets). */
  bench(spec: string, pattern: 'rand' | 'seq', totalBytes: number): Promise<string>;
  /** Stops every daemon (by PID) and removes the directory. */
  stop(): Promise<void>;
}

export async function startRbdCluster(
  pools: readonly string[] = ['rbd'],
  auth: 'none' | 'cephx' = 'none',
): Promise<RbdCluster> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'extentlog-rbd-ceph-'));
  const confPath = path.join(dir, 'ceph.conf');
  const env = {
    ...process.env,
    CEPH_DIR: dir,
    CEPH_RBD_POOLS: pools.join(' '),
    CEPH_AUTH: auth,
    WITH_RGW: '0',
  };
  const stop = async () => {
    await run('bash', [script, 'stop'], { env }).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await run('bash', [script, 'start'], { env, maxBuffer: 16 * 1024 * 1024 });
    // A snapshot create or remove waits for a new OSD map; the monitor proposes one every
    // second by default, which would make each take ~1 s.
    for (const [key, value] of [
      ['paxos_propose_interval', '0.05'],
      ['paxos_min_wait', '0.01'],
    ] as const)
      await run('ceph', ['-c', confPath, 'config', 'set', 'mon', key, value]);
  } catch (error) {
    await stop();
    throw error;
  }
  const { stdout } = await run('ceph-conf', ['-c', confPath, '--lookup', 'mon_host']);
  const monHosts = [`[${stdout.trim()}]`];
  const rbd: RbdCluster['rbd'] = (args, options = {}) =>
    new Promise((resolve, reject) => {
      const child = execFile(
        'rbd',
        ['-c', confPath, ...args],
        { maxBuffer: 256 * 1024 * 1024, encoding: 'utf8' },
        (error, out, err) =>
          error
            ? reject(new Error(`rbd ${args.join(' ')}: ${err || error.message}`))
            : resolve(out),
      );
      if (options.input !== undefined) child.stdin?.end(options.input);
    });
  return {
    dir,
    confPath,
    keyringPath: path.join(dir, 'keyring'),
    monHosts,
    rbd,
    bench: (spec, pattern, totalBytes) =>
      rbd([
        'bench',
        '--io-type',
        'write',
        '--io-size',
        '64K',
        '--io-total',
        String(totalBytes),
        '--io-pattern',
        pattern,
        spec,
      ]),
    stop,
  };
}
