/**
 * A helper process that serves on a unix socket for the length of a cycle: qemu-nbd
 * exporting an image, nbdkit with its VDDK plugin exporting a VMware snapshot. Started
 * with its arguments (never a shell), ready once its socket exists, stopped by its PID —
 * and `stop()` resolves only after the process has exited, because such servers hold locks
 * (qemu-nbd holds the image's lock until it exits).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describeError } from '../errors/extentlog-error.js';
import { SourceError } from './errors.js';

export interface ServerProcessOptions {
  readonly command: string;
  readonly args: readonly string[];
  /** Where the server listens: the unix socket it creates, or host:port with `ready`. */
  readonly listensOn: string;
  readonly readyTimeoutMs?: number;
  readonly env?: NodeJS.ProcessEnv;
  /** When the server is ready; default: once the unix socket `listensOn` accepts connections. */
  readonly ready?: () => Promise<boolean>;
}

export interface ServerProcess {
  readonly pid: number;
  readonly listensOn: string;
  /** The last few KiB the server wrote to stderr. */
  stderr(): string;
  /** Whether the process has exited. */
  readonly exited: boolean;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL (no clean-up by the server); resolves once the process has exited. */
  kill(): Promise<void>;
}

const STDERR_KEEP_BYTES = 8192;

/**
 * A fresh unix socket path in `directory`; sun_path holds 108 bytes, so deep directories
 * fall back to the temp directory.
 */
export function socketPathIn(directory: string, prefix: string): string {
  const name = `${prefix}-${randomBytes(6).toString('hex')}.sock`;
  const socketPath = path.join(directory, name);
  return socketPath.length > 100 ? path.join(os.tmpdir(), `extentlog-${name}`) : socketPath;
}

export async function startServerProcess(options: ServerProcessOptions): Promise<ServerProcess> {
  const { command, args, listensOn } = options;
  const readyTimeoutMs = options.readyTimeoutMs ?? 15_000;
  let child: ChildProcess;
  try {
    child = spawn(command, [...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
      ...(options.env ? { env: options.env } : {}),
    });
  } catch (error) {
    throw toolError(command, args, `could not start: ${describeError(error)}`, error);
  }
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (text: string) => {
    stderr = (stderr + text).slice(-STDERR_KEEP_BYTES);
  });
  let exitCode: number | null = null;
  let spawnError: Error | null = null;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exitCode = code ?? (signal === null ? -1 : 128);
      resolve();
    });
    child.once('error', (error) => {
      spawnError = error;
      resolve();
    });
  });
  let hasExited = false;
  void exited.then(() => {
    hasExited = true;
  });

  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    if (spawnError !== null)
      throw toolError(
        command,
        args,
        `could not start: ${describeError(spawnError)}${(spawnError as NodeJS.ErrnoException).code === 'ENOENT' ? ` (is ${command} installed?)` : ''}`,
        spawnError,
      );
    if (hasExited)
      throw toolError(
        command,
        args,
        `exited with code ${String(exitCode)} before listening: ${stderr.trim()}`,
      );
    if (await (options.ready ?? (() => socketAccepts(listensOn)))()) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      await exited;
      throw toolError(
        command,
        args,
        `was not ready (listening on ${listensOn}) within ${readyTimeoutMs} ms: ${stderr.trim()}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }

  return {
    pid: child.pid!,
    listensOn,
    stderr: () => stderr,
    get exited() {
      return hasExited;
    },
    async stop(graceMs = 10_000) {
      if (hasExited) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
    async kill() {
      if (hasExited) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/**
 * Whether a unix socket accepts connections: it exists from bind(), but refuses them until
 * listen(). The probe connection is closed at once (servers log a short-lived client).
 */
export async function socketAccepts(socketPath: string): Promise<boolean> {
  try {
    await stat(socketPath);
  } catch {
    return false;
  }
  return new Promise((resolve) => {
    const socket = net.connect({ path: socketPath });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function toolError(
  command: string,
  args: readonly string[],
  what: string,
  cause?: unknown,
): SourceError {
  return new SourceError('EXTENTLOG_ERR_SOURCE_TOOL', `${command} ${args.join(' ')}: ${what}`, {
    ...(cause === undefined ? {} : { cause }),
    details: { command, args },
  });
}
