/**
 * Turns the feeds' and targets' "last error" and "last cycle" fields into events: each
 * error (by where, code and time) and each finished cycle is reported once, however often
 * the statuses are looked at. Keeps the most recent errors for the page and the API.
 */
import type { CycleView, ErrorView, FeedView, TargetView } from './read-model.js';
import { SampleRing } from './sample-ring.js';

export interface ErrorEvent extends ErrorView {
  /** 'feed' or 'target' */
  readonly component: 'feed' | 'target';
  /** The feed's or the target's name. */
  readonly name: string;
  readonly feed: string;
  readonly diskId: string;
}

export interface CycleEvent {
  readonly feed: string;
  readonly diskId: string;
  readonly cycle: CycleView;
}

export interface ErrorLogOptions {
  readonly capacity: number;
  readonly onError?: (event: ErrorEvent) => void;
  readonly onCycle?: (event: CycleEvent) => void;
}

export class ErrorLog {
  readonly #recent: SampleRing<ErrorEvent>;
  readonly #options: ErrorLogOptions;
  /** Last error and last cycle seen per feed/target disk. */
  readonly #seenErrors = new Map<string, string>();
  readonly #seenCycles = new Map<string, number>();

  constructor(options: ErrorLogOptions) {
    this.#options = options;
    this.#recent = new SampleRing(options.capacity);
  }

  /** Newest first. */
  recent(): ErrorEvent[] {
    return this.#recent.toArray().reverse();
  }

  /** The newest error of one feed or target, if any is still in the recent ones. */
  latest(component: 'feed' | 'target', name: string): ErrorEvent | undefined {
    return this.recent().find((event) => event.component === component && event.name === name);
  }

  observe(feeds: readonly FeedView[], targets: readonly TargetView[]): void {
    for (const feed of feeds) {
      for (const disk of feed.disks) {
        this.#error('feed', feed.feed, feed.feed, disk.diskId, disk.lastError);
        const cycle = disk.lastCycle;
        const key = `${feed.feed}/${disk.diskId}`;
        if (cycle !== null && this.#seenCycles.get(key) !== cycle.startedAtMs) {
          this.#seenCycles.set(key, cycle.startedAtMs);
          this.#options.onCycle?.({ feed: feed.feed, diskId: disk.diskId, cycle });
        }
      }
    }
    for (const target of targets)
      for (const disk of target.disks)
        this.#error('target', target.target, disk.feed, disk.diskId, disk.lastError);
  }

  #error(
    component: 'feed' | 'target',
    name: string,
    feed: string,
    diskId: string,
    error: ErrorView | null,
  ): void {
    if (error === null) return;
    const key = `${component}\u0000${name}\u0000${feed}\u0000${diskId}`;
    const identity = `${error.code}\u0000${error.atMs}`;
    if (this.#seenErrors.get(key) === identity) return;
    this.#seenErrors.set(key, identity);
    const event: ErrorEvent = { component, name, feed, diskId, ...error };
    this.#recent.push(event);
    this.#options.onError?.(event);
  }
}
