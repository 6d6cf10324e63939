/**
 * Raw configurations for spine tests: feeds with small records (so that an epoch has many
 * records to crash in the middle of), short consumer-group sessions (so that a restarted
 * process rejoins quickly after a SIGKILL), and the connection of a child process to the
 * broker and registry its parent runs.
 */
import type { Runtime } from '../../bin/runtime.js';

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const SESSION_TIMEOUT_MS = 2000;

export function feedEntry(
  name: string,
  disks: readonly { id: string; path: string }[],
  overrides: Record<string, unknown> = {},
) {
  return {
    name,
    source: { type: 'image', disks },
    heartbeatIntervalMs: 0,
    maxRecordBytes: 64 * KiB,
    maxInFlightBytes: MiB,
    ...overrides,
  };
}

export function fileTargetEntry(name: string, feeds: readonly string[], pathTemplate: string) {
  return { type: 'file', name, feeds, path: pathTemplate, flushIntervalMs: 50 };
}

/** What a child process needs to use the broker and registry embedded in `parent`. */
export function connectionTo(parent: Runtime) {
  const embedded = parent.embedded;
  if (embedded === null) throw new Error('the parent runtime has no embedded broker');
  return {
    kafka: { brokers: [embedded.brokerAddress], replicationFactor: 1 },
    schemaRegistry: { url: embedded.registryUrl },
  };
}

/** A small deterministic random source (xorshift32), so that a failing run can be replayed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 2 ** 32;
  };
}
