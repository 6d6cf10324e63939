/**
 * Reading librdkafka's consumer queue without parking a libuv thread-pool thread.
 *
 * The binding's `consume(n)` runs on the thread pool (4 threads, shared with fs and our
 * native addons). A blocking consume per consumer would take a pool thread for every
 * consumer a process runs, so consumes are made with a zero timeout and return only what
 * is already fetched; between them the loop sleeps until librdkafka says its queue turned
 * non-empty (`queue_non_empty_cb`, rd_kafka_queue_cb_event_enable) or an idle timer fires
 * (rebalance and error events also arrive through consume).
 */
import type { RdkafkaConsumer, RdkafkaMessage } from './rdkafka-api.js';

/** Messages taken from the queue per consume call. */
export const CONSUME_BATCH_MESSAGES = 1024;
/** How long a consume loop sleeps without a wake-up before it looks again. */
export const CONSUME_IDLE_MS = 250;

/** A wake-up that is remembered until cleared: a signal between a check and a wait is not lost. */
export class Wake {
  #signalled = false;
  #wake: (() => void) | null = null;

  readonly signal = (): void => {
    this.#signalled = true;
    this.#wake?.();
  };

  /** Forgets signals that came before (call before looking at what a signal announces). */
  clear(): void {
    this.#signalled = false;
  }

  /** Sleeps until signalled (now or since the last clear) or `timeoutMs` passed. */
  async wait(timeoutMs: number): Promise<void> {
    if (this.#signalled) return;
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      this.#wake = resolve;
      timer = setTimeout(resolve, timeoutMs);
    });
    clearTimeout(timer);
    this.#wake = null;
  }
}

/** The consume loop's wake-up: `signal` is the `queue_non_empty_cb`, also our own reasons (seek, stop). */
export class QueueWake extends Wake {
  /** Consumes what the queue holds now, forgetting signals that came before. */
  consume(consumer: RdkafkaConsumer): Promise<RdkafkaMessage[]> {
    this.clear();
    return new Promise((resolve, reject) =>
      consumer.consume(CONSUME_BATCH_MESSAGES, (error, messages) =>
        error ? reject(error) : resolve(messages),
      ),
    );
  }
}

/** Makes `consume()` return at once with what is fetched (call after connecting). */
export function consumeWithoutWaiting(consumer: RdkafkaConsumer): void {
  consumer.setDefaultConsumeTimeout(0);
  consumer.setDefaultIsTimeoutOnlyForFirstMessage(true);
}
