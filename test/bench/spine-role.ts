/**
 * One side of the replication benchmark, as its own process so that its peak memory is its
 * own: `producer CONFIG` runs one cycle of every feed and reports it; `consumer CONFIG`
 * replays and reports each restore point it sees, until stdin closes. Reports are JSON lines
 * on stdout; times are wall-clock milliseconds since the epoch, comparable across processes.
 */
import { readFile } from 'node:fs/promises';
import process from 'node:process';
import { destination, pino } from 'pino';
import { parseConfig } from '../../bin/config/load-config.js';
import { startRuntime } from '../../bin/runtime.js';

function report(event: Record<string, unknown>): void {
  process.stdout.write(
    `${JSON.stringify({ ...event, maxRssBytes: process.resourceUsage().maxRSS * 1024 })}\n`,
  );
}

async function main(): Promise<void> {
  const [role, configPath] = process.argv.slice(2);
  const config = parseConfig(JSON.parse(await readFile(configPath!, 'utf8')), configPath!);
  const logger = pino({ level: 'warn' }, destination(2));
  if (role === 'producer') {
    const runtime = await startRuntime(config, logger, { feeds: true, targets: false });
    const startedAtMs = Date.now();
    for (const feed of runtime.feeds.values()) {
      for (const result of await feed.syncNow()) {
        report({
          event: 'committed',
          startedAtMs,
          committedAtMs: Date.now(),
          epoch: result.committed?.epoch,
          mode: result.mode,
          dataBytes: result.dataBytes,
          zeroBytes: result.zeroBytes,
          records: result.extentRecords,
        });
      }
    }
    await runtime.close();
    return;
  }
  const runtime = await startRuntime(config, logger, { feeds: false, targets: true });
  const seen = new Map<string, number>();
  const timer = setInterval(() => {
    for (const replay of runtime.replays.values()) {
      for (const disk of replay.status().disks) {
        const epoch = disk.lastRestorePoint?.epoch ?? 0;
        const key = `${disk.feed}/${disk.diskId}`;
        if (epoch > (seen.get(key) ?? 0)) {
          seen.set(key, epoch);
          report({ event: 'restored', disk: key, epoch, restoredAtMs: Date.now() });
        }
        if (disk.lastError !== null) report({ event: 'error', disk: key, error: disk.lastError });
      }
    }
  }, 10);
  report({ event: 'ready' });
  process.stdin.resume();
  await new Promise((resolve) => process.stdin.once('end', resolve));
  clearInterval(timer);
  report({ event: 'exit' });
  await runtime.close();
}

main().catch((error: unknown) => {
  process.stderr.write(
    `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
