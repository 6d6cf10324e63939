/**
 * Measures every target's lag in the background, once per `intervalMs`, and keeps:
 * - the latest measurement per target (what the API and the metrics serve, so a status read
 *   never waits for the log);
 * - a ring of past measurements (the lag chart);
 * - per disk, a short ring of applied bytes (apply throughput).
 * Rounds never overlap: the next one is scheduled when the previous one ended.
 */
import type { PartitionOffsets } from '../log/log-client.js';
import type { LagBytesEstimator } from './lag-bytes.js';
import type { StatusReadModel } from './read-model.js';
import { SampleRing } from './sample-ring.js';
import { measureTargetLag, type TargetLag } from './target-lag.js';

export interface LagSample {
  readonly atMs: number;
  readonly targets: readonly {
    readonly target: string;
    readonly records: number;
    readonly bytes: number | null;
    readonly seconds: number | null;
  }[];
}

export interface StatusSamplerOptions {
  readonly model: StatusReadModel;
  readonly bytes: LagBytesEstimator;
  readonly intervalMs: number;
  readonly historySamples: number;
  readonly now?: () => number;
  /** Called after every round (successful or not). */
  readonly onRound?: () => void;
  readonly onError?: (error: unknown) => void;
}

/** Apply throughput is measured over at most this many rounds. */
const THROUGHPUT_ROUNDS = 10;

export class StatusSampler {
  readonly #options: StatusSamplerOptions;
  readonly #now: () => number;
  readonly #history: SampleRing<LagSample>;
  readonly #applied = new Map<string, SampleRing<{ atMs: number; appliedBytes: number }>>();
  #latest = new Map<string, TargetLag>();
  #round: Promise<void> | null = null;
  #timer: NodeJS.Timeout | null = null;
  #stopped = true;
  lastSuccessAtMs: number | null = null;
  lastError: { message: string; atMs: number } | null = null;

  constructor(options: StatusSamplerOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#history = new SampleRing(options.historySamples);
  }

  start(): void {
    this.#stopped = false;
    this.#schedule(0);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#round?.catch(() => undefined);
  }

  /** Runs a round now (after the one in progress, if any) and resolves when it is done. */
  async sampleNow(): Promise<void> {
    while (this.#round !== null) await this.#round.catch(() => undefined);
    this.#round = this.#sample().finally(() => {
      this.#round = null;
    });
    return this.#round;
  }

  latest(target: string): TargetLag | undefined {
    return this.#latest.get(target);
  }

  history(): LagSample[] {
    return this.#history.toArray();
  }

  /** Bytes per second applied to a target's disk over the last rounds; null until two rounds saw it. */
  applyBytesPerSecond(target: string, feed: string, diskId: string): number | null {
    const samples = this.#applied.get(`${target}/${feed}/${diskId}`)?.toArray() ?? [];
    const first = samples[0];
    const last = samples[samples.length - 1];
    if (first === undefined || last === undefined || last.atMs <= first.atMs) return null;
    // The replay's counter restarts with a partition: a drop is a restart, not negative work.
    if (last.appliedBytes < first.appliedBytes) return null;
    return ((last.appliedBytes - first.appliedBytes) * 1000) / (last.atMs - first.atMs);
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.sampleNow().finally(() => this.#schedule(this.#options.intervalMs));
    }, delayMs);
    this.#timer.unref();
  }

  async #sample(): Promise<void> {
    const { model } = this.#options;
    const nowMs = this.#now();
    try {
      const topicOffsets = new Map<string, Promise<PartitionOffsets[]>>();
      const targets = model.targets();
      const latest = new Map<string, TargetLag>();
      const keep = new Set<string>();
      for (const target of targets) {
        const lag = await measureTargetLag(target, {
          log: model.log,
          bytes: this.#options.bytes,
          nowMs,
          topicOffsets,
        });
        latest.set(target.target, lag);
        for (const { topic, partition } of lag.partitions) keep.add(`${topic}/${partition}`);
        for (const disk of target.disks) {
          const key = `${target.target}/${disk.feed}/${disk.diskId}`;
          let ring = this.#applied.get(key);
          if (ring === undefined) {
            ring = new SampleRing(THROUGHPUT_ROUNDS);
            this.#applied.set(key, ring);
          }
          ring.push({ atMs: nowMs, appliedBytes: disk.appliedBytes });
        }
      }
      this.#options.bytes.retain(keep);
      this.#latest = latest;
      this.#history.push({
        atMs: nowMs,
        targets: [...latest.values()].map(({ target, records, bytes, seconds }) => ({
          target,
          records,
          bytes,
          seconds,
        })),
      });
      const problems = [...latest.values()].flatMap((lag) => lag.problems);
      if (problems.length > 0 && problems.length === targets.flatMap((t) => t.feeds).length) {
        throw new Error(problems.join('; '));
      }
      this.lastSuccessAtMs = nowMs;
      this.lastError = null;
    } catch (error) {
      this.lastError = { message: (error as Error).message, atMs: nowMs };
      this.#options.onError?.(error);
    } finally {
      this.#options.onRound?.();
    }
  }
}
