/**
 * What every driver's producer shares: the port's admission rules. A send is admitted
 * when the in-flight window has room for its bytes (in arrival order, so admission order is
 * call order), handed to the driver, and holds its bytes until the driver settles it. After
 * the driver reports a failure, every later call rejects: the idempotent sequence state
 * of the partitions is then uncertain, and the caller re-reads its position from the log
 * with a new producer.
 */
import { ByteBudget } from './byte-budget.js';
import { LogError } from './errors.js';
import type { LogMessage, LogProducer, SendResult } from './log-client.js';

/** Bytes a message holds in the in-flight window: key, value, headers and a record's framing. */
function messageBytes(message: LogMessage): number {
  let bytes = (message.key?.length ?? 0) + (message.value?.length ?? 0) + 16;
  if (message.headers)
    for (const [name, value] of Object.entries(message.headers))
      bytes += name.length + value.length;
  return bytes;
}

/** Total bytes of a send; throws if one of its records exceeds `maxBatchBytes`. */
function sendBytes(
  topic: string,
  partition: number,
  messages: readonly LogMessage[],
  maxBatchBytes: number,
): number {
  if (messages.length === 0) throw new RangeError('send needs at least one message');
  let total = 0;
  for (const message of messages) {
    const bytes = messageBytes(message);
    if (bytes > maxBatchBytes) {
      throw new LogError(
        'EXTENTLOG_ERR_LOG_RECORD_TOO_LARGE',
        `a record of ${bytes} bytes for ${topic}[${partition}] exceeds the producer's batch limit of ${maxBatchBytes} bytes; lower maxRecordBytes`,
        { details: { topic, partition } },
      );
    }
    total += bytes;
  }
  return total;
}

export interface ProducerWindow {
  /** Bytes handed to the driver and not yet acknowledged; admission waits above it. */
  readonly maxInFlightBytes: number;
  /** No single record may be larger (it must fit in one record batch). */
  readonly maxBatchBytes: number;
}

export abstract class WindowedProducer implements LogProducer {
  readonly #window: ProducerWindow;
  readonly #budget: ByteBudget;
  readonly #unsettled = new Set<Promise<SendResult>>();
  #failure: LogError | null = null;
  #closed = false;

  protected constructor(window: ProducerWindow) {
    this.#window = window;
    this.#budget = new ByteBudget(window.maxInFlightBytes);
  }

  /**
   * Hands an admitted send to the driver, in admission order. The promise settles when the
   * log acknowledged every message (resolving with the offset of the first) or refused one.
   */
  protected abstract enqueue(
    topic: string,
    partition: number,
    messages: readonly LogMessage[],
    bytes: number,
  ): Promise<SendResult>;

  /** Closes the driver's client; `failed`: do not wait for messages it may still retry. */
  protected abstract disconnect(failed: boolean): Promise<void>;

  /** Keeps the first failure; the driver rejects what it holds with it. */
  protected fail(error: LogError): LogError {
    this.#failure ??= error;
    return this.#failure;
  }

  inFlightBytes(): number {
    return this.#budget.usedBytes;
  }

  async send(
    topic: string,
    partition: number,
    messages: readonly LogMessage[],
  ): Promise<SendResult> {
    const { acknowledged } = await this.#admit(topic, partition, messages);
    return acknowledged;
  }

  async publish(topic: string, partition: number, messages: readonly LogMessage[]): Promise<void> {
    const { acknowledged } = await this.#admit(topic, partition, messages);
    // A failure is kept and reported by the next call or flush.
    acknowledged.catch(() => undefined);
  }

  async flush(): Promise<void> {
    while (this.#unsettled.size > 0) await Promise.allSettled([...this.#unsettled]);
    if (this.#failure !== null) throw this.#failure;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    try {
      await this.flush().catch(() => undefined);
    } finally {
      this.#closed = true;
      await this.disconnect(this.#failure !== null);
    }
  }

  /** Resolves once the window admitted the send (a promise in a promise would flatten). */
  async #admit(
    topic: string,
    partition: number,
    messages: readonly LogMessage[],
  ): Promise<{ acknowledged: Promise<SendResult> }> {
    this.#assertUsable();
    const bytes = sendBytes(topic, partition, messages, this.#window.maxBatchBytes);
    await this.#budget.acquire(bytes);
    if (this.#failure !== null || this.#closed) {
      this.#budget.release(bytes);
      this.#assertUsable();
    }
    const acknowledged = this.enqueue(topic, partition, messages, bytes).finally(() => {
      this.#budget.release(bytes);
      this.#unsettled.delete(acknowledged);
    });
    this.#unsettled.add(acknowledged);
    return { acknowledged };
  }

  #assertUsable(): void {
    if (this.#failure !== null) {
      throw new LogError(
        'EXTENTLOG_ERR_LOG_PRODUCER_CLOSED',
        `the producer failed earlier and takes no more sends: ${this.#failure.message}`,
        { cause: this.#failure },
      );
    }
    if (this.#closed)
      throw new LogError('EXTENTLOG_ERR_LOG_PRODUCER_CLOSED', 'the producer is closed');
  }
}
