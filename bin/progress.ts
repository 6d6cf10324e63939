/**
 * The progress display of a terminal: a block of status lines (see progress-lines.ts) kept
 * at the bottom of stderr and redrawn in place at most every `intervalMs`, with log lines
 * written above it. Only for a TTY — without one, the commands write structured logs and
 * nothing else, so pipes and files never see a redraw.
 *
 * Redrawing uses two ANSI sequences: CSI n F (cursor to the start of the line n up) and
 * CSI J (erase to the end of the screen). Lines are cut to the terminal's width so that
 * none wraps, which would break the count of lines to move up.
 */
import type { Subscription } from 'rxjs';
import type { Feed, FeedStatus } from '../producers/feed.js';
import type { Replay, ReplayStatus } from '../consumers/replay.js';
import { CycleClock, feedLines, syncingKeys, targetLines } from './progress-lines.js';

export interface ProgressStream {
  write(text: string): unknown;
  readonly columns?: number;
  readonly rows?: number;
}

export interface ProgressSources {
  readonly feeds: ReadonlyMap<string, Feed>;
  readonly replays: ReadonlyMap<string, Replay>;
}

export class ProgressDisplay {
  readonly #stream: ProgressStream;
  readonly #now: () => number;
  readonly #feeds = new Map<string, FeedStatus>();
  readonly #replays = new Map<string, ReplayStatus>();
  readonly #clock = new CycleClock();
  readonly #subscriptions: Subscription[] = [];
  readonly #timer: NodeJS.Timeout;
  #extra: string[] = [];
  #drawnLines = 0;
  #drawnBlock = '';
  #stopped = false;

  constructor(stream: ProgressStream, options: { intervalMs?: number; now?: () => number } = {}) {
    this.#stream = stream;
    this.#now = options.now ?? Date.now;
    this.#timer = setInterval(() => this.#redraw(), options.intervalMs ?? 250);
    this.#timer.unref();
  }

  /** Shows the feeds' and targets' statuses from now on. */
  watch(sources: ProgressSources): void {
    for (const feed of sources.feeds.values())
      this.#subscriptions.push(
        feed.status$.subscribe((status) => this.#feeds.set(status.feed, status)),
      );
    for (const replay of sources.replays.values())
      this.#subscriptions.push(
        replay.status$.subscribe((status) => this.#replays.set(status.target, status)),
      );
    this.#redraw();
  }

  /** Lines of the command's own under the statuses (a step, a hash in progress); drawn at the next tick. */
  setExtra(lines: readonly string[]): void {
    this.#extra = [...lines];
  }

  /** Writes `text` above the status block. */
  log(text: string): void {
    if (this.#stopped) this.#stream.write(`${text}\n`);
    else this.#render(`${text}\n`);
  }

  /** Draws the final state once more and leaves it on the screen. */
  stop(): void {
    if (this.#stopped) return;
    this.#redraw();
    this.#stopped = true;
    clearInterval(this.#timer);
    for (const subscription of this.#subscriptions.splice(0)) subscription.unsubscribe();
  }

  #lines(): string[] {
    const nowMs = this.#now();
    this.#clock.keepOnly(syncingKeys(this.#feeds.values()));
    const lines = [
      ...[...this.#feeds.values()].flatMap((status) => feedLines(status, this.#clock, nowMs)),
      ...[...this.#replays.values()].flatMap((status) => targetLines(status, nowMs)),
      ...this.#extra,
    ];
    const rows = Math.max(3, (this.#stream.rows || 24) - 2);
    if (lines.length <= rows) return lines;
    return [...lines.slice(0, rows - 1), `… ${lines.length - rows + 1} more lines`];
  }

  /** One write: erase the block, print `above` (log lines), draw the block again. */
  #render(above: string): void {
    // A pseudo-terminal without a size reports 0 columns and rows.
    const width = Math.max(20, (this.#stream.columns || 80) - 1);
    const lines = this.#lines().map((line) =>
      line.length > width ? `${line.slice(0, width - 1)}…` : line,
    );
    const block = lines.length === 0 ? '' : `${lines.join('\n')}\n`;
    if (above === '' && block === this.#drawnBlock) return;
    const erase = this.#drawnLines > 0 ? `\x1b[${this.#drawnLines}F\x1b[J` : '';
    this.#stream.write(`${erase}${above}${block}`);
    this.#drawnLines = lines.length;
    this.#drawnBlock = block;
  }

  #redraw(): void {
    if (!this.#stopped) this.#render('');
  }
}
