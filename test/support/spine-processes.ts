/**
 * Extentlog child processes for the crash tests (see test/e2e/spine.child.ts): started with
 * `fork` on a spec file, driven over the IPC channel, killed with SIGKILL by PID. Every child
 * still alive when the test ends is killed by the clean-up the caller registers.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { LogClient } from '../../log/log-client.js';

export interface SpineChildSpec {
  readonly role: 'targets' | 'feed';
  /** A raw configuration (parsed with `parseConfig`). */
  readonly config: unknown;
  /** Where the child's log goes (pino JSON lines). */
  readonly logPath: string;
  /** targets: where the commitEpoch hashes go. */
  readonly hashLog?: string;
}

export type ChildRequest = { readonly cmd: 'sync' };
export type ChildEvent =
  | { readonly event: 'ready' }
  | { readonly event: 'synced'; readonly epochs: (number | null)[] }
  | { readonly event: 'failed'; readonly message: string };

export interface CommitHash {
  readonly target: string;
  readonly disk: string;
  readonly epoch: number;
  readonly sha256: string;
}

/** The hashes a targets child recorded, in order. */
export async function readCommitHashes(hashLog: string): Promise<CommitHash[]> {
  const text = await readFile(hashLog, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as CommitHash);
}

const CHILD_SCRIPT = fileURLToPath(new URL('../e2e/spine.child.js', import.meta.url));

export interface SpineChild {
  readonly pid: number;
  /** Runs a cycle of every disk (role 'feed'); resolves with the committed epochs. */
  sync(): Promise<(number | null)[]>;
  /** SIGKILL, then waits for the exit. */
  kill(): Promise<void>;
  /** SIGTERM (a clean shutdown), then waits for the exit. */
  stop(): Promise<void>;
}

async function logTail(logPath: string): Promise<string> {
  const text = await readFile(logPath, 'utf8').catch(() => '');
  return text.split('\n').slice(-15).join('\n');
}

export async function startSpineChild(
  spec: SpineChildSpec,
  specPath: string,
  /** Registers the kill at the end of the test (`TempDir.beforeRemoval`). */
  cleanup: (fn: () => Promise<void>) => void,
): Promise<SpineChild> {
  await writeFile(specPath, JSON.stringify(spec));
  const child: ChildProcess = fork(CHILD_SCRIPT, [specPath], {
    execArgv: ['--enable-source-maps'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  let alive = true;
  void exited.then(() => (alive = false));
  const kill = async (signal: NodeJS.Signals) => {
    if (alive) child.kill(signal);
    await exited;
  };
  cleanup(() => kill('SIGKILL'));
  const events: ChildEvent[] = [];
  const listeners = new Set<() => void>();
  child.on('message', (event: ChildEvent) => {
    events.push(event);
    for (const listener of listeners) listener();
  });
  /** The next event of one of `kinds`, or a rejection if the child exits first. */
  const next = (kinds: ChildEvent['event'][]) =>
    new Promise<ChildEvent>((resolve, reject) => {
      const check = () => {
        const index = events.findIndex((event) => kinds.includes(event.event));
        if (index >= 0) {
          listeners.delete(check);
          resolve(events.splice(index, 1)[0]!);
        }
      };
      listeners.add(check);
      check();
      void exited.then(async (code) => {
        if (!listeners.has(check)) return;
        listeners.delete(check);
        reject(
          new Error(
            `child ${child.pid} exited (${code}) before ${kinds.join('/')}; its log ends:\n${await logTail(spec.logPath)}`,
          ),
        );
      });
    });
  await next(['ready']);
  return {
    pid: child.pid!,
    async sync() {
      child.send({ cmd: 'sync' } satisfies ChildRequest);
      const event = await next(['synced', 'failed']);
      if (event.event === 'failed') throw new Error(`child sync failed: ${event.message}`);
      return event.event === 'synced' ? event.epochs : [];
    },
    kill: () => kill('SIGKILL'),
    stop: () => kill('SIGTERM'),
  };
}

/** Every message of a topic's partition, from its start to its end now. */
export async function readPartition(
  log: LogClient,
  topic: string,
  partition: number,
): Promise<{ offset: number; key: Buffer | null; value: Buffer | null }[]> {
  const bounds = (await log.admin.offsets(topic)).find((entry) => entry.partition === partition);
  if (bounds === undefined || bounds.endOffset <= bounds.startOffset) return [];
  const messages = [];
  for await (const message of log.readRange({
    topic,
    partition,
    fromOffset: bounds.startOffset,
    toOffset: bounds.endOffset,
  }))
    messages.push(message);
  return messages;
}
