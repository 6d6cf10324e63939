/**
 * A replay of a runtime's feed into a target the test builds itself (a wrapped log client, a
 * target with test-only options), wired the way bin/runtime.ts wires configured targets.
 */
import { extentsTopic, replayGroupId, type Runtime } from '../../bin/runtime.js';
import { createReplay, type Replay } from '../../consumers/replay.js';
import { createRestorePointWriter } from '../../consumers/restore-points.js';
import type { Target } from '../../consumers/target.js';
import type { LogClient } from '../../log/log-client.js';
import { createRecordCodec } from '../../schemas/record-codec.js';
import { silentLogger } from './silent-logger.js';

export interface RuntimeReplay {
  readonly replay: Replay;
  stop(): Promise<void>;
}

export async function startRuntimeReplay(
  runtime: Runtime,
  options: {
    readonly targetName: string;
    readonly target: Target;
    readonly feed: string;
    readonly log?: LogClient;
    readonly flushIntervalMs?: number;
  },
): Promise<RuntimeReplay> {
  const prefix = runtime.config.topicPrefix;
  const writer = createRestorePointWriter({
    log: runtime.log,
    topic: runtime.restorePointsTopic,
    codec: runtime.restorePointCodec,
  });
  const replay = createReplay({
    targetName: options.targetName,
    target: options.target,
    log: options.log ?? runtime.log,
    decoder: createRecordCodec({
      registry: runtime.registry,
      subject: `${extentsTopic(prefix, 'any')}-value`,
    }),
    feeds: [{ feed: options.feed, topic: extentsTopic(prefix, options.feed) }],
    groupId: replayGroupId(prefix, options.targetName),
    restorePoints: writer,
    lastRestorePoints: new Map(),
    requestRebaseline: () => undefined,
    flushIntervalMs: options.flushIntervalMs ?? 100,
    retryBackoffMs: 200,
    logger: silentLogger,
  });
  await replay.start();
  return {
    replay,
    async stop() {
      await replay.stop();
      await writer.close();
      await options.target.close();
    },
  };
}
