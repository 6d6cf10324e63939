/**
 * Progress output: drawn only on a terminal. Without one, stderr carries JSON log lines
 * and nothing else; on a pseudo-terminal (util-linux `script`), the status block appears and
 * log lines are short and human.
 */
import assert from 'node:assert/strict';
import process from 'node:process';
import { test } from 'node:test';
import { CLI_PATH, runCli, startProcess, transcript } from '../support/cli.js';
import { writeCliSetup } from '../support/cli-config.js';
import { tempDir } from '../support/temp-dir.js';

const ESC = '\u001b';

test('without a terminal stderr holds only JSON log lines', async (t) => {
  const dir = await tempDir(t, 'cli-progress-pipe');
  const setup = await writeCliSetup(dir.path);
  const result = await runCli(t, ['run', '--once', '-c', setup.configPath, '--log-level', 'info']);
  assert.equal(result.code, 0, transcript(result));
  const lines = result.stderr.split('\n').filter((line) => line !== '');
  assert.ok(lines.length > 5, 'info logs were written');
  for (const line of lines) assert.doesNotThrow(() => JSON.parse(line), `not JSON: ${line}`);
  for (const text of [ESC, '█', '░'])
    assert.ok(!result.stderr.includes(text), `no ${JSON.stringify(text)} on stderr`);
  assert.ok(!result.stdout.includes(ESC), 'no escape sequences on stdout');
  assert.ok(
    lines.some((line) => (JSON.parse(line) as { msg: string }).msg === 'sync cycle committed'),
  );
});

test('on a terminal the feeds and targets show as status lines above which logs scroll', async (t) => {
  const dir = await tempDir(t, 'cli-progress-tty');
  const setup = await writeCliSetup(dir.path);
  const command = [process.execPath, CLI_PATH, 'run', '--once', '-c', setup.configPath]
    .map((word) => `'${word}'`)
    .join(' ');
  // script(1) runs the command on a pseudo-terminal and copies what it writes to stdout.
  const result = await startProcess(t, 'script', ['-q', '-e', '-c', command, '/dev/null']).exited;
  assert.equal(result.code, 0, transcript(result));
  const screen = result.stdout;
  assert.match(screen, /feed vm1 \(image\)/);
  assert.match(screen, /disk-0 {2}(SYNC|FULL) e1 {2}\[░*█*░*\]/u, 'a bar while the disk syncs');
  assert.match(screen, /target mirror-a \(file\) {2}lag \d+ records/);
  assert.match(screen, /vm1\/disk-0 {2}restore point e1 /);
  assert.match(screen, new RegExp(`${ESC}\\[\\d+F${ESC}\\[J`), 'the block is redrawn in place');
  assert.match(screen, /\d\d:\d\d:\d\d INFO {2}sync cycle committed feed=vm1 disk=disk-0/);
  assert.doesNotMatch(screen, /\{"level":/, 'no JSON on the terminal');
  assert.match(screen, /^ok\r?$/m, 'the summary is still printed');
});
