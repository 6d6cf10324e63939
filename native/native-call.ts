/**
 * The TypeScript side of a native call: a rejected call that carries errno + syscall (see
 * FioWorker in native/fileio/fileio-worker.h) becomes NativeError
 * EXTENTLOG_ERR_NATIVE_SYSCALL with the errno's name and the call's context; a bad
 * argument becomes EXTENTLOG_ERR_NATIVE_INVALID_ARGUMENT before anything reaches C++.
 */
import os from 'node:os';
import { NativeError } from './errors.js';

const errnoNames = new Map<number, string>(
  Object.entries(os.constants.errno).map(([name, value]) => [value, name]),
);
const RETRIABLE_ERRNOS = new Set(['EINTR', 'EAGAIN', 'EBUSY']);

/** Runs a native call and translates a rejected errno into `NativeError`. */
export async function callNative<T>(
  run: () => Promise<T>,
  context: Readonly<Record<string, unknown>>,
): Promise<T> {
  try {
    return await run();
  } catch (error) {
    const { errno, syscall, code } = error as {
      errno?: unknown;
      syscall?: unknown;
      code?: unknown;
    };
    if (typeof errno !== 'number' || typeof syscall !== 'string') throw error;
    // Node.js's own fs errors carry a negative errno and its name in `code`.
    const name =
      typeof code === 'string' && /^E[A-Z0-9]+$/.test(code)
        ? code
        : (errnoNames.get(Math.abs(errno)) ?? `errno ${errno}`);
    const where = Object.entries(context)
      .filter(([, value]) => value !== undefined)
      .map(([key, value]) => `${key}=${String(value)}`)
      .join(' ');
    throw new NativeError(
      'EXTENTLOG_ERR_NATIVE_SYSCALL',
      `${syscall} failed with ${name} (${(error as Error).message.replace(/^[^:]*: /, '')}) for ${where}`,
      {
        cause: error,
        retriable: RETRIABLE_ERRNOS.has(name),
        details: { ...context, errno: name, errnoNumber: Math.abs(errno), syscall },
      },
    );
  }
}

export function invalidArgument(
  addon: string,
  name: string,
  expected: string,
  received: unknown,
): NativeError {
  const shown =
    typeof received === 'number' || typeof received === 'bigint' ? received : typeof received;
  return new NativeError(
    'EXTENTLOG_ERR_NATIVE_INVALID_ARGUMENT',
    `${addon}: ${name} must be ${expected}, received ${shown}`,
    { details: { argument: name } },
  );
}

export function checkFd(addon: string, fd: number): void {
  if (!Number.isSafeInteger(fd) || fd < 0 || fd > 0x7fffffff)
    throw invalidArgument(addon, 'fd', 'a file descriptor (a non-negative integer)', fd);
}
