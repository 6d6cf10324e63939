/**
 * An extentlog process with its status API, for tests that drive a real replication over
 * HTTP: started from a configuration file, stopped by PID (SIGTERM, then SIGKILL at the
 * end of the test if it is still there), plus a small JSON client of its API.
 */
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TempDir } from './temp-dir.js';
import { eventually } from './eventually.js';

const CHILD = fileURLToPath(
  new URL('../integration/status/status-process.child.js', import.meta.url),
);

export interface StatusProcess {
  readonly pid: number;
  readonly url: string;
  readonly logFile: string;
  stop(): Promise<void>;
}

export async function startStatusProcess(
  dir: TempDir,
  name: string,
  config: unknown,
): Promise<StatusProcess> {
  const configFile = path.join(dir.path, `${name}.json`);
  const logFile = path.join(dir.path, `${name}.log`);
  await writeFile(configFile, JSON.stringify(config));
  const child = spawn(process.execPath, ['--enable-source-maps', CHILD, configFile, logFile], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  let running = true;
  void exited.then(() => (running = false));
  dir.beforeRemoval(async () => {
    if (running) child.kill('SIGKILL');
    await exited;
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const url = await eventually(
    `${name} to start`,
    async () => {
      if (!running) {
        const log = await readFile(logFile, 'utf8').catch(() => '');
        throw new Error(`${name} exited: ${stderr}\n${log.split('\n').slice(-10).join('\n')}`);
      }
      const line = stdout.split('\n').find((candidate) => candidate.startsWith('{'));
      return line === undefined ? undefined : (JSON.parse(line) as { statusUrl: string }).statusUrl;
    },
    60_000,
  );
  return {
    pid: child.pid!,
    url,
    logFile,
    async stop() {
      if (running) child.kill('SIGTERM');
      const code = await exited;
      if (code !== 0) throw new Error(`${name} exited with ${code}: ${stderr}`);
    },
  };
}

export interface ApiAnswer {
  readonly status: number;
  readonly body: Record<string, unknown>;
  readonly headers: Headers;
}

/** JSON requests to a status API; `token` adds the bearer header. */
export function statusApi(url: string) {
  const call = async (
    method: 'GET' | 'POST',
    route: string,
    options: { token?: string; body?: unknown } = {},
  ): Promise<ApiAnswer> => {
    const response = await fetch(`${url}${route}`, {
      method,
      headers: {
        ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
        ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await response.text();
    return {
      status: response.status,
      body: text.startsWith('{') ? (JSON.parse(text) as Record<string, unknown>) : { text },
      headers: response.headers,
    };
  };
  return {
    get: (route: string) => call('GET', route),
    post: (route: string, options?: { token?: string; body?: unknown }) =>
      call('POST', route, options),
  };
}
