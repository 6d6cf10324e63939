/**
 * `extentlog run --once`: one cycle of every disk of every feed, then the wait until every
 * target following those feeds announced the resulting restore points (and until targets
 * following feeds that run elsewhere replayed what their topics hold now).
 */
import { describeError } from '../errors/extentlog-error.js';
import type { CycleResult } from '../producers/sync-cycle.js';
import type { RestorePoint } from '../schemas/restore-point.js';
import { replayGroupId, extentsTopic, type Runtime } from './runtime.js';
import {
  waitForCatchUp,
  waitForRestorePoints,
  type RestorePointExpectation,
  type WaitOptions,
} from './wait-for-targets.js';

export interface CycleOutcome {
  readonly feed: string;
  readonly disk: string;
  readonly result: CycleResult | null;
  readonly durationMs: number | null;
  readonly error: string | null;
}

export interface OnceReport {
  readonly cycles: readonly CycleOutcome[];
  readonly restorePoints: readonly (RestorePointExpectation & { point: RestorePoint | null })[];
  /** Why waiting for the targets ended early (timeout, a stopped target, a signal), if it did. */
  readonly waitError: unknown;
  readonly ok: boolean;
}

async function runCycles(runtime: Runtime): Promise<CycleOutcome[]> {
  const runs = [...runtime.feeds.values()].flatMap((feed) =>
    feed.status().disks.map(async ({ diskId }): Promise<CycleOutcome> => {
      try {
        const [result] = await feed.syncNow([diskId]);
        const last = feed.status().disks.find((disk) => disk.diskId === diskId)?.lastCycle;
        return {
          feed: feed.name,
          disk: diskId,
          result: result ?? null,
          durationMs: last?.durationMs ?? null,
          error: result?.committed === null ? 'the cycle ended without a commit' : null,
        };
      } catch (error) {
        return {
          feed: feed.name,
          disk: diskId,
          result: null,
          durationMs: null,
          error: describeError(error),
        };
      }
    }),
  );
  return Promise.all(runs);
}

export async function runOnce(runtime: Runtime, options: WaitOptions): Promise<OnceReport> {
  const cycles = await runCycles(runtime);
  const expectations: RestorePointExpectation[] = [];
  for (const cycle of cycles) {
    const epoch = cycle.result?.committed?.epoch;
    if (epoch === undefined) continue;
    for (const target of runtime.config.targets)
      if (target.feeds.includes(cycle.feed) && runtime.replays.has(target.name))
        expectations.push({ target: target.name, feed: cycle.feed, disk: cycle.disk, epoch });
  }
  let points: (RestorePoint | null)[] = expectations.map(() => null);
  let waitError: unknown = null;
  try {
    if (expectations.length > 0)
      points = await waitForRestorePoints(runtime.replays, expectations, options);
    const prefix = runtime.config.topicPrefix;
    const localFeeds = new Set(runtime.config.feeds.map((feed) => feed.name));
    await waitForCatchUp(
      runtime.log,
      runtime.config.targets.flatMap((target) => {
        const replay = runtime.replays.get(target.name);
        const remote = target.feeds.filter((feed) => !localFeeds.has(feed));
        return replay === undefined || remote.length === 0
          ? []
          : [
              {
                name: target.name,
                groupId: replayGroupId(prefix, target.name),
                topics: remote.map((feed) => extentsTopic(prefix, feed)),
                replay,
              },
            ];
      }),
      options,
    );
  } catch (error) {
    waitError = error;
  }
  return {
    cycles,
    restorePoints: expectations.map((expectation, index) => ({
      ...expectation,
      point: points[index] ?? null,
    })),
    waitError,
    ok: waitError === null && cycles.every((cycle) => cycle.error === null),
  };
}
