/**
 * One partition per disk. Which partition a disk uses is read back from the log: a
 * partition belongs to the disk whose id keys its last record. Disks seen for the first
 * time take the lowest empty partition, and the topic grows when none is left. The mapping
 * therefore survives restarts and config reordering without any state outside the log.
 */
import type { LogClient } from '../log/log-client.js';

export async function assignPartitions(options: {
  readonly log: LogClient;
  readonly topic: string;
  readonly diskIds: readonly string[];
  /** Creates or grows the topic to at least `partitions`. */
  readonly ensureTopic: (partitions: number) => Promise<void>;
}): Promise<Map<string, number>> {
  const { log, topic, diskIds, ensureTopic } = options;
  await ensureTopic(Math.max(1, diskIds.length));
  const offsets = await log.admin.offsets(topic);
  const owners = await Promise.all(
    offsets.map(async ({ partition, startOffset, endOffset }) => {
      if (endOffset <= startOffset) return { partition, owner: null };
      for await (const message of log.readRange({
        topic,
        partition,
        fromOffset: endOffset - 1,
        toOffset: endOffset,
      })) {
        return { partition, owner: message.key?.toString() ?? null };
      }
      return { partition, owner: null };
    }),
  );
  const assignment = new Map<string, number>();
  const taken = new Set<number>();
  for (const { partition, owner } of owners) {
    if (owner !== null && diskIds.includes(owner) && !assignment.has(owner)) {
      assignment.set(owner, partition);
    }
    if (owner !== null) taken.add(partition);
  }
  const free = owners
    .filter(({ partition }) => !taken.has(partition))
    .map(({ partition }) => partition)
    .sort((a, b) => a - b);
  let partitionCount = offsets.length;
  for (const diskId of diskIds) {
    if (assignment.has(diskId)) continue;
    const partition = free.shift() ?? partitionCount++;
    assignment.set(diskId, partition);
  }
  if (partitionCount > offsets.length) await ensureTopic(partitionCount);
  return assignment;
}
