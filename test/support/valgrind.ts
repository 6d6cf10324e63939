/**
 * Leak runs of the native addons: a Node.js script under valgrind's memcheck. Node and V8
 * leave no definitely-lost blocks of their own at exit, so any definite leak or memory error
 * fails the run (exit code 97); the log names the frames.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import process from 'node:process';

export interface ValgrindRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** valgrind's own log. */
  readonly log: string;
}

export async function runUnderValgrind(
  script: string,
  args: readonly string[],
  logFile: string,
): Promise<ValgrindRun> {
  const { code, stdout, stderr } = await new Promise<Omit<ValgrindRun, 'log'>>((resolve) => {
    execFile(
      'valgrind',
      [
        '--leak-check=full',
        '--show-leak-kinds=definite',
        '--errors-for-leak-kinds=definite',
        '--error-exitcode=97',
        `--log-file=${logFile}`,
        process.execPath,
        script,
        ...args,
      ],
      { maxBuffer: 16 * 1024 * 1024 },
      (error, out, err) =>
        resolve({
          code: error ? ((error as { code?: number }).code ?? 1) : 0,
          stdout: out,
          stderr: err,
        }),
    );
  });
  return { code, stdout, stderr, log: await readFile(logFile, 'utf8') };
}
