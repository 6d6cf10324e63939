/**
 * Starts the embedded schema registry in this process on 127.0.0.1:0 with a fresh data
 * directory, and a real `@kafkajs/confluent-schema-registry` client pointed at it. Both are
 * removed by the test's `after` hook.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import {
  startSchemaRegistry,
  type RunningSchemaRegistry,
} from '../../log/registry/schema-registry.js';

export interface TestRegistry {
  readonly dataDir: string;
  readonly running: RunningSchemaRegistry;
  readonly url: string;
  /** A new client (with its own schema cache) each call. */
  client(): SchemaRegistry;
  /** Stops the server and starts it again on the same data directory (new port). */
  restart(): Promise<void>;
}

/** `onCleanup` is node:test's `after`, or `(fn) => t.after(fn)` inside a test. */
export async function startTestRegistry(
  onCleanup: (fn: () => Promise<void>) => void,
): Promise<TestRegistry> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'extentlog-registry-'));
  let running = await startSchemaRegistry({ dataDir });
  onCleanup(async () => {
    await running.close();
    await rm(dataDir, { recursive: true, force: true });
  });
  return {
    dataDir,
    get running() {
      return running;
    },
    get url() {
      return running.url;
    },
    client: () => new SchemaRegistry({ host: running.url, retry: { retries: 0 } }),
    async restart() {
      await running.close();
      running = await startSchemaRegistry({ dataDir });
    },
  };
}
