/**
 * Runs `extentlog broker` as a child process (the built CLI in dist/), for tests that kill
 * and restart it. Resolves once the broker prints its listening address.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/extentlog.js');

export interface BrokerProcess {
  readonly pid: number;
  readonly host: string;
  readonly port: number;
  readonly address: string;
  readonly child: ChildProcess;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  readonly exited: Promise<number | string>;
  /** Collected stderr (the broker's log), for failure messages. */
  stderr(): string;
  /** The schema registry served next to the broker, unless started with --no-registry. */
  readonly registryUrl: string | null;
  /** SIGTERM (a clean stop), then SIGKILL if it has not exited within `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

export async function startBrokerProcess(options: {
  dataDir: string;
  port: number;
  args?: readonly string[];
  /** Options for node itself (e.g. --cpu-prof). */
  nodeArgs?: readonly string[];
}): Promise<BrokerProcess> {
  const child = spawn(
    process.execPath,
    [
      ...(options.nodeArgs ?? []),
      cli,
      'broker',
      '--data-dir',
      options.dataDir,
      '--port',
      String(options.port),
      '--registry-port',
      '0',
      ...(options.args ?? []),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-20_000);
  });
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
  });
  let registryUrl: string | null = null;
  const address = await new Promise<string>((resolve, reject) => {
    let stdout = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /broker listening on (\S+):(\d+)/.exec(stdout);
      const registry = /schema registry listening on (\S+)/.exec(stdout);
      const wantsRegistry = !(options.args ?? []).includes('--no-registry');
      if (match && (registry || !wantsRegistry)) {
        registryUrl = registry?.[1] ?? null;
        resolve(`${match[1]}:${match[2]}`);
      }
    });
    void exited.then((code) =>
      reject(new Error(`broker exited (${code}) before listening:\n${stderr}`)),
    );
  });
  const [host, port] = address.split(':') as [string, string];
  return {
    pid: child.pid as number,
    host,
    port: Number(port),
    address,
    registryUrl,
    child,
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
    exited,
    stderr: () => stderr,
  };
}
