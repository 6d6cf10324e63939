/**
 * Waiting for targets, for the commands that run replication to a point and then stop
 * (`run --once`, `demo`): until given restore points are announced, or until a target has
 * replayed what its topics held at a moment. Driven by the replays' `status$`, with a
 * deadline; a target disk stopped by an error that retrying cannot fix ends the wait at once.
 */
import type { Subscription } from 'rxjs';
import { TargetError } from '../consumers/errors.js';
import type { Replay, ReplayStatus } from '../consumers/replay.js';
import type { LogClient } from '../log/log-client.js';
import type { RestorePoint } from '../schemas/restore-point.js';
import { CommandError } from './commands/errors.js';

export interface RestorePointExpectation {
  readonly target: string;
  readonly feed: string;
  readonly disk: string;
  /** The restore point's epoch must be at least this. */
  readonly epoch: number;
}

export interface WaitOptions {
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
}

/** A disk the replay stopped for good: retrying cannot help, so waiting cannot either. */
function stoppedForGood(status: ReplayStatus, feed?: string, disk?: string): string | null {
  for (const entry of status.disks) {
    if (entry.state !== 'stopped' || entry.lastError === null) continue;
    if (feed !== undefined && (entry.feed !== feed || entry.diskId !== disk)) continue;
    const info = (TargetError.codes as Record<string, { retriable: boolean } | undefined>)[
      entry.lastError.code
    ];
    if (info?.retriable === true) continue;
    return `target ${status.target} stopped replaying ${entry.feed}/${entry.diskId}: ${entry.lastError.message} [${entry.lastError.code}]`;
  }
  return null;
}

/**
 * Watches the replays' statuses until `check` returns a value (resolved), throws (rejected),
 * the deadline passes or the signal fires.
 */
function watchReplays<T>(
  replays: readonly Replay[],
  what: string,
  check: (statuses: ReadonlyMap<string, ReplayStatus>) => T | undefined,
  options: WaitOptions,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const statuses = new Map<string, ReplayStatus>();
    const subscriptions: Subscription[] = [];
    let settled = false;
    const finish = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      for (const subscription of subscriptions) subscription.unsubscribe();
      outcome();
    };
    const evaluate = () => {
      if (settled || statuses.size < replays.length) return;
      try {
        const value = check(statuses);
        if (value !== undefined) finish(() => resolve(value));
      } catch (error) {
        finish(() => reject(error));
      }
    };
    const onAbort = () =>
      finish(() =>
        reject(
          new CommandError(
            'EXTENTLOG_ERR_COMMAND_INTERRUPTED',
            `stopped while waiting for ${what}`,
          ),
        ),
      );
    const timer = setTimeout(
      () =>
        finish(() =>
          reject(
            new CommandError(
              'EXTENTLOG_ERR_COMMAND_TIMEOUT',
              `waited ${Math.round(options.timeoutMs / 1000)} s for ${what}; the targets' status: ${describe(statuses)}`,
            ),
          ),
        ),
      options.timeoutMs,
    );
    if (options.signal?.aborted) return onAbort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    for (const replay of replays)
      subscriptions.push(
        replay.status$.subscribe((status) => {
          statuses.set(status.target, status);
          evaluate();
        }),
      );
    evaluate();
  });
}

function describe(statuses: ReadonlyMap<string, ReplayStatus>): string {
  const parts = [...statuses.values()].flatMap((status) =>
    status.disks.map(
      (disk) =>
        `${status.target} ${disk.feed}/${disk.diskId} ${disk.state}, restore point ${disk.lastRestorePoint?.epoch ?? 'none'}`,
    ),
  );
  return parts.length === 0 ? 'nothing received yet' : parts.join('; ');
}

/** Resolves with the restore point that met each expectation (same order). */
export function waitForRestorePoints(
  replays: ReadonlyMap<string, Replay>,
  expectations: readonly RestorePointExpectation[],
  options: WaitOptions,
): Promise<RestorePoint[]> {
  const involved = [...new Set(expectations.map((expectation) => expectation.target))].map(
    (name) => {
      const replay = replays.get(name);
      if (replay === undefined) throw new RangeError(`no replay of target ${name} runs here`);
      return replay;
    },
  );
  const what = expectations
    .map((e) => `${e.target} ${e.feed}/${e.disk} epoch ${e.epoch}`)
    .join(', ');
  return watchReplays(
    involved,
    `restore points (${what})`,
    (statuses) => {
      const met: RestorePoint[] = [];
      for (const expectation of expectations) {
        const status = statuses.get(expectation.target)!;
        const stopped = stoppedForGood(status, expectation.feed, expectation.disk);
        if (stopped !== null) throw new CommandError('EXTENTLOG_ERR_COMMAND_REPLICATION', stopped);
        const point = status.disks.find(
          (disk) => disk.feed === expectation.feed && disk.diskId === expectation.disk,
        )?.lastRestorePoint;
        if (point === undefined || point === null || point.epoch < expectation.epoch) return;
        met.push(point);
      }
      return met;
    },
    options,
  );
}

export interface CatchUpTarget {
  readonly name: string;
  readonly groupId: string;
  readonly topics: readonly string[];
  readonly replay: Replay;
}

/**
 * Resolves once every target has replayed its topics up to their end offsets as of this
 * call (what the group had committed already counts).
 */
export async function waitForCatchUp(
  log: LogClient,
  targets: readonly CatchUpTarget[],
  options: WaitOptions,
): Promise<void> {
  const pending: { target: string; topic: string; partition: number; endOffset: number }[] = [];
  const existing = new Set(await log.admin.listTopics());
  for (const target of targets) {
    for (const topic of target.topics) {
      if (!existing.has(topic)) continue;
      const committed = await log.admin.groupOffsets(target.groupId, topic);
      for (const { partition, startOffset, endOffset } of await log.admin.offsets(topic)) {
        const done = committed.partitions.find((entry) => entry.partition === partition);
        if (endOffset > Math.max(startOffset, done?.offset ?? -1))
          pending.push({ target: target.name, topic, partition, endOffset });
      }
    }
  }
  if (pending.length === 0) return;
  const replays = targets
    .filter((target) => pending.some((entry) => entry.target === target.name))
    .map((target) => target.replay);
  await watchReplays(
    replays,
    `the targets to replay ${pending.map((p) => `${p.topic}[${p.partition}] to offset ${p.endOffset}`).join(', ')}`,
    (statuses) => {
      for (const status of statuses.values()) {
        const stopped = stoppedForGood(status);
        if (stopped !== null) throw new CommandError('EXTENTLOG_ERR_COMMAND_REPLICATION', stopped);
      }
      const behind = pending.some(({ target, topic, partition, endOffset }) => {
        const state = statuses
          .get(target)
          ?.partitions.find((entry) => entry.topic === topic && entry.partition === partition);
        return state === undefined || state.nextOffset < endOffset;
      });
      return behind ? undefined : true;
    },
    options,
  );
}
