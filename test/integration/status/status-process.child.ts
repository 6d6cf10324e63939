/**
 * An extentlog process for the status tests: the runtime of a configuration file, as
 * `extentlog run` composes it, with its logs in a file. Prints one JSON line on stdout once
 * running — `{"statusUrl": …}` — and stops cleanly on SIGTERM.
 *
 *   node status-process.child.js <config.json> <log file>
 */
import process from 'node:process';
import { destination, pino } from 'pino';
import { loadConfig } from '../../../bin/config/load-config.js';
import { startRuntime } from '../../../bin/runtime.js';

async function main(): Promise<void> {
  const [configFile, logFile] = process.argv.slice(2);
  if (configFile === undefined || logFile === undefined)
    throw new Error('usage: status-process.child.js <config.json> <log file>');
  const config = await loadConfig(configFile);
  const logger = pino({ level: 'info' }, destination({ dest: logFile, sync: true }));
  const runtime = await startRuntime(config, logger);
  process.once('SIGTERM', () => {
    void runtime.close().finally(() => process.exit(0));
  });
  process.stdout.write(`${JSON.stringify({ statusUrl: runtime.status?.url ?? null })}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`status process failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
