/**
 * Starts the embedded broker in this process for a test, on 127.0.0.1 and an ephemeral
 * port with its own temporary data directory; stopped and removed when the test ends.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startBroker, type BrokerOptions, type RunningBroker } from '../../log/broker/broker.js';

export interface TestBroker extends RunningBroker {
  readonly dataDir: string;
  /** `host:port` for client configuration. */
  readonly address: string;
}

export async function startTestBroker(
  /** Registers the clean-up: `t.after` of a test, or `after` of a whole file. */
  cleanup: (fn: () => Promise<void>) => void,
  options: Partial<BrokerOptions> = {},
): Promise<TestBroker> {
  const dataDir = options.dataDir ?? (await mkdtemp(path.join(os.tmpdir(), 'extentlog-broker-')));
  const broker = await startBroker({
    port: 0,
    groups: { initialRebalanceDelayMs: 50, ...options.groups },
    ...options,
    dataDir,
  });
  cleanup(async () => {
    await broker.close();
    if (options.dataDir === undefined) await rm(dataDir, { recursive: true, force: true });
  });
  return { ...broker, dataDir, address: `${broker.host}:${broker.port}` };
}
export { eventually } from './eventually.js';
