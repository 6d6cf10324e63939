/**
 * `npm run bench`: runs every suite in `suites/` (or those named on the command line) and
 * prints one table per suite plus a combined one. Each suite measures extentlog and a peer
 * tool in the same run, so the ratios are comparable from run to run.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { formatTable, machineSummary, type BenchRow, type BenchSuite } from './harness.js';

const suitesDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'suites');

async function loadSuites(only: readonly string[]): Promise<BenchSuite[]> {
  const files = (await readdir(suitesDir)).filter((file) => file.endsWith('.bench.js')).sort();
  const suites: BenchSuite[] = [];
  for (const file of files) {
    const module = (await import(pathToFileURL(path.join(suitesDir, file)).href)) as {
      suite: BenchSuite;
    };
    if (only.length === 0 || only.some((name) => module.suite.name.includes(name)))
      suites.push(module.suite);
  }
  return suites;
}

async function main(): Promise<number> {
  const only = process.argv.slice(2);
  const scale = Number(process.env.BENCH_SCALE ?? '1');
  const baseDir = process.env.BENCH_DIR ?? path.resolve('.tmp');
  const suites = await loadSuites(only);
  process.stdout.write(`extentlog benchmarks — ${machineSummary()}\n\n`);
  const all: { suite: string; rows: BenchRow[] }[] = [];
  let failed = false;
  for (const suite of suites) {
    const workDir = await mkdtemp(
      path.join(baseDir === '' ? os.tmpdir() : await ensureDir(baseDir), `bench-${suite.name}-`),
    );
    try {
      const rows = await suite.run({
        workDir,
        scale,
        log: (message) => process.stderr.write(`[${suite.name}] ${message}\n`),
      });
      all.push({ suite: suite.name, rows });
      process.stdout.write(`${formatTable(suite.name, rows)}\n\n`);
    } catch (error) {
      failed = true;
      process.stderr.write(
        `[${suite.name}] failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
    } finally {
      await rm(workDir, { recursive: true, force: true });
    }
  }
  if (all.length > 1) {
    process.stdout.write('All suites:\n');
    process.stdout.write(`${all.map(({ suite, rows }) => formatTable(suite, rows)).join('\n')}\n`);
  }
  return failed ? 1 : 0;
}

async function ensureDir(dir: string): Promise<string> {
  const { mkdir } = await import('node:fs/promises');
  await mkdir(dir, { recursive: true });
  return dir;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(
      `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = 1;
  },
);
