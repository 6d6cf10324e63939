/**
 * Runs a Node.js script under valgrind's memcheck for the native addons' leak runs. Node and
 * V8 leave no definitely-lost blocks of their own at exit, so any definite leak or memory
 * error fails the run (exit code 97); `assertClean` names the frames from the log.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import process from 'node:process';

export interface MemcheckRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly log: string;
}

export async function runUnderMemcheck(
  script: string,
  args: readonly string[],
  logFile: string,
): Promise<MemcheckRun> {
  const { code, stdout, stderr } = await new Promise<Omit<MemcheckRun, 'log'>>((resolve) => {
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

/** The script ran to its end (printed `exercised`) with no memory error and no definite leak. */
export function assertClean(run: MemcheckRun): void {
  assert.equal(run.code, 0, `valgrind exited ${run.code}: ${run.stderr}\n${run.log.slice(-20000)}`);
  assert.match(run.stdout, /exercised/);
  assert.match(run.log, /ERROR SUMMARY: 0 errors/);
  assert.match(run.log, /definitely lost: 0 bytes|All heap blocks were freed/);
}
