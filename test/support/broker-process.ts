/**
 * Runs the embedded broker as its own process (`extentlog broker`), on 127.0.0.1 and an
 * ephemeral port, so a test can kill it (SIGSTOP, SIGKILL) or a benchmark can keep its CPU
 * apart from the client's. Killed when the test ends; its data directory is the caller's.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// dist/test/support/ → dist/bin/extentlog.js
const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/extentlog.js');

export interface BrokerProcess {
  readonly pid: number;
  /** `host:port` for client configuration. */
  readonly address: string;
  readonly child: ChildProcess;
  /** Resolves when the process has exited. */
  readonly exited: Promise<void>;
  /** SIGTERM (a clean stop), then SIGKILL if it has not exited within `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

export async function startBrokerProcess(
  /** Registers the clean-up: `t.after` of a test, or `after` of a whole file. */
  cleanup: (fn: () => Promise<void>) => void,
  dataDir: string,
  startTimeoutMs = 30_000,
): Promise<BrokerProcess> {
  const child = spawn(
    process.execPath,
    [CLI, 'broker', '--data-dir', dataDir, '--port', '0', '--log-level', 'warn'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  const stop = async (graceMs = 10_000) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  };
  cleanup(() => stop());
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  const address = await new Promise<string>((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(
      () => reject(new Error(`the broker did not start within ${startTimeoutMs} ms: ${stderr}`)),
      startTimeoutMs,
    );
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /listening on (\S+:\d+)/.exec(stdout);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the broker exited (${code ?? signal}) before listening: ${stderr}`));
    });
  });
  return { pid: child.pid!, address, child, exited, stop };
}
