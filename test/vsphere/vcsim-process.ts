/**
 * Starts the vSphere simulator (test/vsphere/vcsim/main.go, built by scripts/build-vcsim.sh
 * from Debian's govmomi) on 127.0.0.1 and an ephemeral port; stopped by its PID.
 */
import { execFile, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Cleanup } from '../support/nbd-servers.js';

const run = promisify(execFile);
// dist/test/vsphere → the checkout
const checkout = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const binary = path.join(checkout, 'dist/test/vsphere/vcsim/vcsim');

export interface Vcsim {
  readonly pid: number;
  /** http://127.0.0.1:PORT/sdk */
  readonly sdkUrl: string;
  stop(): Promise<void>;
}

export async function startVcsim(
  cleanup: Cleanup,
  options: { readonly diskCapacityBytes: number; readonly tls?: boolean },
): Promise<Vcsim> {
  await run('bash', [path.join(checkout, 'scripts/build-vcsim.sh')], { cwd: checkout });
  const args = ['-disk-capacity-bytes', String(options.diskCapacityBytes)];
  if (options.tls) args.push('-tls');
  const child = spawn(binary, args, {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stderr = '';
  child.stderr
    .setEncoding('utf8')
    .on('data', (text: string) => (stderr = (stderr + text).slice(-4096)));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    await exited;
  };
  cleanup(stop);
  const sdkUrl = await new Promise<string>((resolve, reject) => {
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      stdout += text;
      const newline = stdout.indexOf('\n');
      if (newline >= 0) resolve(stdout.slice(0, newline).trim());
    });
    child.once('exit', (code) => reject(new Error(`vcsim exited with ${code}: ${stderr}`)));
  });
  return { pid: child.pid!, sdkUrl, stop };
}
