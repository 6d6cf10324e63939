/**
 * The status API's view of a running process: the read model and actions of `status/`
 * implemented over this process's feeds, replays, log client and embedded broker. The
 * status API sees nothing else of them.
 */
import type { Logger } from 'pino';
import type { Replay } from '../consumers/replay.js';
import { readRestorePointLog, type RestorePointCodec } from '../consumers/restore-points.js';
import type { LogClient } from '../log/log-client.js';
import type { Feed } from '../producers/feed.js';
import { StatusError } from '../status/errors.js';
import type {
  RestorePointView,
  StatusActions,
  StatusReadModel,
  TargetView,
} from '../status/read-model.js';
import type { EmbeddedServices } from './embedded.js';

export interface RuntimeStatusParts {
  readonly log: LogClient;
  readonly feeds: ReadonlyMap<string, Feed>;
  readonly replays: ReadonlyMap<string, Replay>;
  /** The feeds (and their topics) each target follows, from the configuration. */
  readonly targetFeeds: ReadonlyMap<string, readonly { feed: string; topic: string }[]>;
  readonly embedded: EmbeddedServices | null;
  readonly restorePointsTopic: string;
  readonly restorePointCodec: RestorePointCodec;
  readonly logger: Logger;
}

function lookup<T>(kind: string, map: ReadonlyMap<string, T>, name: string): T {
  const found = map.get(name);
  if (found === undefined)
    throw new StatusError(
      'EXTENTLOG_ERR_STATUS_NOT_FOUND',
      `no ${kind} '${name}' in this process; known: ${[...map.keys()].join(', ') || 'none'}`,
    );
  return found;
}

export function createRuntimeStatusModel(parts: RuntimeStatusParts): {
  model: StatusReadModel;
  actions: StatusActions;
} {
  const { feeds, replays, log, logger } = parts;
  const model: StatusReadModel = {
    feeds: () => [...feeds.values()].map((feed) => feed.status()),
    targets: () =>
      [...replays.entries()].map(([name, replay]): TargetView => {
        const status = replay.status();
        return { ...status, feeds: parts.targetFeeds.get(name) ?? [] };
      }),
    restorePoints: (): Promise<RestorePointView[]> =>
      readRestorePointLog({
        log,
        topic: parts.restorePointsTopic,
        codec: parts.restorePointCodec,
      }),
    log: {
      offsets: (topic) => log.admin.offsets(topic),
      groupOffsets: (groupId, topic) => log.admin.groupOffsets(groupId, topic),
      readRange: (options) => log.readRange(options),
    },
    brokerDiskUsageBytes: () => parts.embedded?.broker.store.diskUsageBytes() ?? null,
    subscribe(listener) {
      const subscriptions = [
        ...[...feeds.values()].map((feed) => feed.status$.subscribe(() => listener())),
        ...[...replays.values()].map((replay) => replay.status$.subscribe(() => listener())),
      ];
      return () => subscriptions.forEach((subscription) => subscription.unsubscribe());
    },
  };
  const startCycle = (feed: Feed, diskIds?: readonly string[]) => {
    feed.syncNow(diskIds).catch((error: unknown) =>
      // The failure is in the disk's status (and the page); the log has the details.
      logger.warn({ err: error, feed: feed.name, disks: diskIds }, 'requested sync cycle failed'),
    );
  };
  const actions: StatusActions = {
    syncNow: (feed, diskIds) => startCycle(lookup('feed', feeds, feed), diskIds),
    pauseFeed: (feed) => lookup('feed', feeds, feed).pause(),
    resumeFeed: (feed) => lookup('feed', feeds, feed).resume(),
    pauseTarget: (target) => lookup('target', replays, target).pause(),
    resumeTarget: (target) => lookup('target', replays, target).resume(),
    requestRebaseline(feedName, diskId, reason, syncNow) {
      const feed = lookup('feed', feeds, feedName);
      try {
        feed.requestRebaseline(diskId, `requested through the status API: ${reason}`);
      } catch (error) {
        throw new StatusError('EXTENTLOG_ERR_STATUS_NOT_FOUND', (error as Error).message, {
          cause: error,
        });
      }
      if (syncNow) startCycle(feed, [diskId]);
    },
  };
  return { model, actions };
}
