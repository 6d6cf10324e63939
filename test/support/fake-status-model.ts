/**
 * An in-memory fake of the status API's ports (read model, actions, and the log it reads
 * offsets and records from), for unit tests of routes, lag and metrics.
 */
import type {
  ConsumedMessage,
  GroupOffsets,
  PartitionOffsets,
  ReadRangeOptions,
} from '../../log/log-client.js';
import type {
  CycleView,
  FeedDiskView,
  FeedView,
  RestorePointView,
  StatusActions,
  StatusReadModel,
  TargetDiskView,
  TargetView,
} from '../../status/read-model.js';

interface FakePartition {
  startOffset: number;
  /** Value sizes of the records from startOffset on. */
  sizes: number[];
}

export class FakeLog {
  readonly partitions = new Map<string, FakePartition[]>();
  readonly committed = new Map<string, number>();
  readRanges = 0;
  failOffsets = false;

  /** Appends records of these value sizes to a partition (creating the topic as needed). */
  append(topic: string, partition: number, sizes: readonly number[]): void {
    const partitions = this.partitions.get(topic) ?? [];
    while (partitions.length <= partition) partitions.push({ startOffset: 0, sizes: [] });
    partitions[partition]!.sizes.push(...sizes);
    this.partitions.set(topic, partitions);
  }

  commit(groupId: string, topic: string, partition: number, offset: number): void {
    this.committed.set(`${groupId}/${topic}/${partition}`, offset);
  }

  async offsets(topic: string): Promise<PartitionOffsets[]> {
    if (this.failOffsets) throw new Error('the log is unreachable');
    const partitions = this.partitions.get(topic);
    if (partitions === undefined) throw new Error(`no topic ${topic}`);
    return partitions.map(({ startOffset, sizes }, partition) => ({
      partition,
      startOffset,
      endOffset: startOffset + sizes.length,
    }));
  }

  async groupOffsets(groupId: string, topic: string): Promise<GroupOffsets> {
    const partitions = this.partitions.get(topic) ?? [];
    return {
      groupId,
      topic,
      partitions: partitions.map((_, partition) => ({
        partition,
        offset: this.committed.get(`${groupId}/${topic}/${partition}`) ?? -1,
        metadata: null,
      })),
    };
  }

  async *readRange(options: ReadRangeOptions): AsyncIterable<ConsumedMessage> {
    this.readRanges += 1;
    const state = this.partitions.get(options.topic)?.[options.partition];
    if (state === undefined) throw new Error('no such partition');
    const end = Math.min(options.toOffset ?? Infinity, state.startOffset + state.sizes.length);
    for (let offset = options.fromOffset; offset < end; offset += 1) {
      yield {
        topic: options.topic,
        partition: options.partition,
        offset,
        key: Buffer.from('d'),
        value: Buffer.alloc(state.sizes[offset - state.startOffset]!),
        headers: {},
        timestampMs: 0,
      };
    }
  }
}

/** A cycle as the feed reports it: with fields the API does not show (nextSeq, committed). */
export function fakeCycle(overrides: Partial<CycleView> = {}): CycleView {
  const cycle = {
    nextSeq: 12,
    committed: { epoch: 1, seq: 11, reference: 'image:1', committedAtMs: 1_001_000 },
    epochs: [1],
    mode: 'INCREMENTAL' as const,
    startedAtMs: 1_000_000,
    durationMs: 1500,
    extentRecords: 3,
    dataBytes: 3 * 4096,
    zeroBytes: 0,
    rebaselineReason: null,
    changeMap: { bucketBytes: 4096, changedBytes: [4096, 0, 8192] },
    ...overrides,
  };
  return cycle;
}

export function fakeFeedDisk(overrides: Partial<FeedDiskView> = {}): FeedDiskView {
  return {
    diskId: 'disk-0',
    partition: 0,
    phase: 'idle',
    sizeBytes: 1 << 30,
    currentEpoch: null,
    lastCommittedEpoch: 1,
    lastCommittedAtMs: 1_001_000,
    progress: null,
    lastCycle: null,
    recentCycles: [],
    published: { extentRecords: 10, dataBytes: 40960, zeroBytes: 4096, heartbeats: 2 },
    lastError: null,
    rebaselineRequested: null,
    ...overrides,
  };
}

export function fakeRestorePoint(overrides: Partial<RestorePointView> = {}): RestorePointView {
  return {
    target: 'mirror',
    feed: 'vm1',
    disk: 'disk-0',
    epoch: 1,
    sourceReference: 'image:1',
    digest: 'ab'.repeat(32),
    diskSizeBytes: 1 << 30,
    committedAtMs: 1_001_000,
    durableAtMs: 1_002_000,
    location: null,
    ...overrides,
  };
}

export function fakeTargetDisk(overrides: Partial<TargetDiskView> = {}): TargetDiskView {
  return {
    feed: 'vm1',
    diskId: 'disk-0',
    topic: 'x.vm1.extents',
    partition: 0,
    state: 'between-epochs',
    currentEpoch: null,
    lastRestorePoint: fakeRestorePoint(),
    appliedRecords: 5,
    appliedBytes: 20480,
    newestAppliedSourceTimeMs: 1_001_000,
    lastError: null,
    ...overrides,
  };
}

export function fakeFeed(overrides: Partial<FeedView> = {}): FeedView {
  return {
    feed: 'vm1',
    topic: 'x.vm1.extents',
    sourceKind: 'image',
    paused: false,
    disks: [fakeFeedDisk()],
    ...overrides,
  };
}

export function fakeTarget(overrides: Partial<TargetView> = {}): TargetView {
  return {
    target: 'mirror',
    targetKind: 'file',
    groupId: 'x.target.mirror',
    paused: false,
    feeds: [{ feed: 'vm1', topic: 'x.vm1.extents' }],
    partitions: [
      { topic: 'x.vm1.extents', partition: 0, nextOffset: 0, committedOffset: 0, paused: false },
    ],
    disks: [fakeTargetDisk()],
    ...overrides,
  };
}

export class FakeStatusModel implements StatusReadModel, StatusActions {
  feedViews: FeedView[] = [fakeFeed()];
  targetViews: TargetView[] = [fakeTarget()];
  logPoints: RestorePointView[] = [fakeRestorePoint()];
  diskUsageBytes: number | null = 4096;
  readonly log = new FakeLog();
  readonly calls: string[] = [];
  readonly #listeners = new Set<() => void>();

  constructor() {
    this.log.append('x.vm1.extents', 0, []);
  }

  feeds(): readonly FeedView[] {
    return this.feedViews;
  }

  targets(): readonly TargetView[] {
    return this.targetViews;
  }

  async restorePoints(): Promise<readonly RestorePointView[]> {
    return this.logPoints;
  }

  brokerDiskUsageBytes(): number | null {
    return this.diskUsageBytes;
  }

  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Tells subscribers that statuses changed. */
  changed(): void {
    for (const listener of this.#listeners) listener();
  }

  syncNow(feed: string, diskIds?: readonly string[]): void {
    this.calls.push(`sync ${feed} ${diskIds?.join(',') ?? '*'}`);
  }
  pauseFeed(feed: string): void {
    this.calls.push(`pause feed ${feed}`);
  }
  resumeFeed(feed: string): void {
    this.calls.push(`resume feed ${feed}`);
  }
  pauseTarget(target: string): void {
    this.calls.push(`pause target ${target}`);
  }
  resumeTarget(target: string): void {
    this.calls.push(`resume target ${target}`);
  }
  requestRebaseline(feed: string, diskId: string, reason: string, syncNow: boolean): void {
    this.calls.push(`rebaseline ${feed} ${diskId} '${reason}' ${syncNow}`);
  }
}
