/**
 * How far behind a target is, three ways:
 * - records, per partition: end offset − the group's committed offset (what the target has
 *   made durable; Kafka's consumer-lag convention). A group with no commit counts from the
 *   partition's start.
 * - bytes, per partition: the sizes of those records (see lag-bytes.ts for the method).
 * - seconds, per disk: 0 when its partition is caught up, else now − the source time of the
 *   newest record the target applied — the recovery point actually achieved. Before any
 *   record was applied in this process, the last restore point's source time stands in.
 */
import type { PartitionOffsets } from '../log/log-client.js';
import type { LagBytesEstimator, LagBytesMethod } from './lag-bytes.js';
import type { StatusLog, TargetDiskView, TargetView } from './read-model.js';

export interface PartitionLag {
  readonly topic: string;
  readonly partition: number;
  readonly startOffset: number;
  readonly endOffset: number;
  readonly committedOffset: number | null;
  /** Whether this process's member of the group replays the partition. */
  readonly assigned: boolean;
  readonly records: number;
  readonly bytes: number | null;
  readonly bytesMethod: LagBytesMethod;
}

export interface DiskLag {
  readonly feed: string;
  readonly diskId: string;
  readonly topic: string;
  readonly partition: number;
  readonly seconds: number | null;
}

export interface TargetLag {
  readonly target: string;
  readonly sampledAtMs: number;
  readonly records: number;
  readonly bytes: number | null;
  readonly bytesMethod: LagBytesMethod;
  /** The worst disk's lag; null when no disk's is known. */
  readonly seconds: number | null;
  readonly partitions: readonly PartitionLag[];
  readonly disks: readonly DiskLag[];
  /** Why some of the lag could not be measured (a topic missing, the log unreachable). */
  readonly problems: readonly string[];
}

export interface LagContext {
  readonly log: StatusLog;
  readonly bytes: LagBytesEstimator;
  readonly nowMs: number;
  /** End offsets per topic, shared by the targets of one sampling round. */
  readonly topicOffsets: Map<string, Promise<PartitionOffsets[]>>;
}

function diskSeconds(disk: TargetDiskView, caughtUp: boolean, nowMs: number): number | null {
  if (caughtUp) return 0;
  const sourceTimeMs = disk.newestAppliedSourceTimeMs ?? disk.lastRestorePoint?.committedAtMs;
  return sourceTimeMs === undefined ? null : Math.max(0, nowMs - sourceTimeMs) / 1000;
}

function combinedMethod(methods: readonly LagBytesMethod[]): LagBytesMethod {
  if (methods.includes('unknown')) return 'unknown';
  return methods.includes('sampled') ? 'sampled' : 'exact';
}

export async function measureTargetLag(
  target: TargetView,
  context: LagContext,
): Promise<TargetLag> {
  const { log, nowMs } = context;
  const partitions: PartitionLag[] = [];
  const problems: string[] = [];
  const assigned = new Set(
    target.partitions.map(({ topic, partition }) => `${topic}/${partition}`),
  );
  for (const { topic } of target.feeds) {
    let offsets: PartitionOffsets[];
    let committed: Awaited<ReturnType<StatusLog['groupOffsets']>>;
    try {
      let pending = context.topicOffsets.get(topic);
      if (pending === undefined) {
        pending = log.offsets(topic);
        context.topicOffsets.set(topic, pending);
      }
      [offsets, committed] = await Promise.all([pending, log.groupOffsets(target.groupId, topic)]);
    } catch (error) {
      problems.push(`${topic}: ${(error as Error).message}`);
      continue;
    }
    for (const { partition, startOffset, endOffset } of offsets) {
      const entry = committed.partitions.find((candidate) => candidate.partition === partition);
      const committedOffset = entry !== undefined && entry.offset >= 0 ? entry.offset : null;
      const fromOffset = Math.max(startOffset, committedOffset ?? startOffset);
      const records = Math.max(0, endOffset - fromOffset);
      const estimate = await context.bytes.estimate(topic, partition, fromOffset, endOffset);
      partitions.push({
        topic,
        partition,
        startOffset,
        endOffset,
        committedOffset,
        assigned: assigned.has(`${topic}/${partition}`),
        records,
        bytes: estimate.bytes,
        bytesMethod: estimate.method,
      });
    }
  }
  const lagOf = new Map(partitions.map((entry) => [`${entry.topic}/${entry.partition}`, entry]));
  const disks = target.disks.map((disk): DiskLag => {
    const partition = lagOf.get(`${disk.topic}/${disk.partition}`);
    return {
      feed: disk.feed,
      diskId: disk.diskId,
      topic: disk.topic,
      partition: disk.partition,
      seconds: partition === undefined ? null : diskSeconds(disk, partition.records === 0, nowMs),
    };
  });
  const knownSeconds = disks.flatMap(({ seconds }) => (seconds === null ? [] : [seconds]));
  const records = partitions.reduce((total, entry) => total + entry.records, 0);
  const bytesKnown = partitions.every((entry) => entry.bytes !== null);
  return {
    target: target.target,
    sampledAtMs: nowMs,
    records,
    bytes: bytesKnown ? partitions.reduce((total, entry) => total + (entry.bytes ?? 0), 0) : null,
    bytesMethod: combinedMethod(partitions.map((entry) => entry.bytesMethod)),
    seconds:
      knownSeconds.length > 0
        ? Math.max(...knownSeconds)
        : records === 0 && problems.length === 0
          ? 0
          : null,
    partitions,
    disks,
    problems,
  };
}
