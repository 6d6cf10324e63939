/**
 * Retention of restore points: deletes manifests, never chunks (garbage collection frees
 * the chunks no manifest refers to any more). Per disk, a restore point is kept when it is
 * among the newest `keepLast`, or younger than `keepForMs` (by its manifest's modification
 * time); the newest one is always kept, as the next epoch builds on it.
 */
import type { BucketLayout } from './bucket-layout.js';
import { listManifests, type ManifestEntry } from './manifest-index.js';
import type { ObjectStore } from './object-store.js';

export interface RetentionPolicy {
  readonly keepLast?: number;
  readonly keepForMs?: number;
}

export interface RetentionResult {
  readonly kept: readonly ManifestEntry[];
  readonly deleted: readonly ManifestEntry[];
}

export async function applyRetention(options: {
  readonly store: ObjectStore;
  readonly layout: BucketLayout;
  readonly policy: RetentionPolicy;
  readonly feed?: string;
  readonly diskId?: string;
  readonly dryRun?: boolean;
  readonly now?: () => number;
}): Promise<RetentionResult> {
  const { store, layout, policy } = options;
  const nowMs = (options.now ?? Date.now)();
  const byDisk = new Map<string, ManifestEntry[]>();
  for (const entry of await listManifests(store, layout, options.feed, options.diskId)) {
    const disk = `${entry.feed}\u0000${entry.diskId}`;
    byDisk.set(disk, [...(byDisk.get(disk) ?? []), entry]);
  }
  const kept: ManifestEntry[] = [];
  const deleted: ManifestEntry[] = [];
  const noPolicy = policy.keepLast === undefined && policy.keepForMs === undefined;
  for (const entries of byDisk.values()) {
    entries.sort((a, b) => b.epoch - a.epoch);
    entries.forEach((entry, index) => {
      const keep =
        noPolicy ||
        index === 0 ||
        index < (policy.keepLast ?? 0) ||
        (policy.keepForMs !== undefined && entry.lastModifiedMs >= nowMs - policy.keepForMs);
      (keep ? kept : deleted).push(entry);
    });
  }
  if (!options.dryRun && deleted.length > 0) await store.delete(deleted.map((entry) => entry.key));
  return { kept, deleted };
}
