/**
 * `extentlog demo` end to end, as a user runs it: the real command in a child process, on
 * a small sample disk. Its own checks are checked again here, independently.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { runCli, transcript } from '../support/cli.js';
import { sha256OfFile } from '../support/image-files.js';
import { tempDir } from '../support/temp-dir.js';

/** The rows of the summary table, as cells. */
function summaryRows(stdout: string): string[][] {
  const lines = stdout.split('\n');
  const header = lines.findIndex((line) => line.startsWith('cycle  mode'));
  assert.ok(header >= 0, `a summary table in:\n${stdout}`);
  const rows: string[][] = [];
  for (const line of lines.slice(header + 2)) {
    if (line.trim() === '') break;
    rows.push(line.trim().split(/\s+/));
  }
  return rows;
}

test('demo replicates a FULL and two INCREMENTAL cycles into both targets', async (t) => {
  const dir = await tempDir(t, 'cli-demo');
  const demoDir = path.join(dir.path, 'demo');
  const result = await runCli(t, ['demo', '--dir', demoDir, '--size-mib', '8', '--cycles', '2']);
  assert.equal(result.code, 0, transcript(result));
  const rows = summaryRows(result.stdout);
  assert.deepEqual(
    rows.map((row) => [row[0], row[1], row[8], row[9]]),
    [
      ['0', 'FULL', 'ok', 'ok'],
      ['1', 'INCREMENTAL', 'ok', 'ok'],
      ['2', 'INCREMENTAL', 'ok', 'ok'],
    ],
  );
  assert.ok(Number(rows[0]![3]) > 0, 'the FULL cycle carried data');
  assert.match(result.stdout, /punched a hole/);
  assert.match(result.stdout, /bytes written at \d+ \(unaligned\)/);
  assert.match(result.stdout, /^ok: after every cycle/m);
  // Independently of the demo's own check: both images hold the source's bytes.
  const source = await sha256OfFile(path.join(demoDir, 'source.img'));
  assert.equal(rows[2]![7], source.slice(0, 16));
  for (const target of ['mirror-a', 'mirror-b'])
    assert.equal(await sha256OfFile(path.join(demoDir, target, 'demo-disk-0.img')), source);
  const config = await readFile(path.join(demoDir, 'extentlog.yaml'), 'utf8');
  assert.match(config, /type: image/);
  assert.doesNotMatch(config, /kafka:/, 'the demo runs on the embedded broker');
});

test('demo on the pure-Node.js options, then again with --keep', async (t) => {
  const dir = await tempDir(t, 'cli-demo-pure');
  const demoDir = path.join(dir.path, 'demo');
  const first = await runCli(t, [
    'demo',
    '--dir',
    demoDir,
    '--size-mib',
    '4',
    '--cycles',
    '1',
    '--pure-node',
  ]);
  assert.equal(first.code, 0, transcript(first));
  assert.match(first.stdout, /hashAlgorithm sha256-128, detectHoles false and zeroing write-zeros/);
  assert.match(
    await readFile(path.join(demoDir, 'extentlog.yaml'), 'utf8'),
    /zeroing: write-zeros/,
  );
  // --keep goes on from the committed state: no FULL cycle this time.
  const again = await runCli(t, [
    'demo',
    '--dir',
    demoDir,
    '--cycles',
    '1',
    '--keep',
    '--pure-node',
  ]);
  assert.equal(again.code, 0, transcript(again));
  assert.match(again.stdout, /keeping the sample disk/);
  assert.deepEqual(
    summaryRows(again.stdout).map((row) => row[1]),
    ['INCREMENTAL', 'INCREMENTAL'],
  );
});

test('demo rejects a bad option with exit 2 and prints its usage on --help', async (t) => {
  const bad = await runCli(t, ['demo', '--size-mib', '2']);
  assert.equal(bad.code, 2, transcript(bad));
  assert.match(bad.stderr, /--size-mib expects a whole number from 4 to 65536, received '2'/);
  const help = await runCli(t, ['demo', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^usage: extentlog demo/);
});
