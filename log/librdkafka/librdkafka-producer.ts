/**
 * The log port's producer over librdkafka: idempotent (enable.idempotence: acks=all,
 * per-partition sequence numbers, up to 5 requests in flight per broker — KIP-98), behind
 * the port's in-flight window (`WindowedProducer`).
 *
 * Order: librdkafka keeps one FIFO queue per partition and idempotence makes its retries
 * safe, so the order of `produce()` calls — the order sends are admitted in — is the order
 * in the log.
 *
 * Acknowledgements: every message carries its send as the delivery-report opaque; a send
 * resolves when all of its messages are reported, with the offset of the first. The first
 * failed report fails the producer and every send it still holds.
 */
import type { LogError } from '../errors.js';
import type { LogHeaders, LogMessage, SendResult } from '../log-client.js';
import { WindowedProducer, type ProducerWindow } from '../windowed-producer.js';
import { toLogError } from './librdkafka-errors.js';
import type {
  RdkafkaDeliveryReport,
  RdkafkaError,
  RdkafkaHeaders,
  RdkafkaProducer,
} from './rdkafka-api.js';

/** A send librdkafka holds messages of; the delivery-report opaque of each of them. */
interface PendingSend {
  readonly topic: string;
  readonly partition: number;
  remaining: number;
  baseOffset: number;
  resolve(result: SendResult): void;
  reject(error: LogError): void;
}

function toRdkafkaHeaders(headers: LogHeaders | undefined): RdkafkaHeaders | undefined {
  if (headers === undefined) return undefined;
  return Object.entries(headers).map(([name, value]) => ({ [name]: value }));
}

export class LibrdkafkaProducer extends WindowedProducer {
  readonly #producer: RdkafkaProducer;
  readonly #pending = new Set<PendingSend>();

  /** `producer` is connected, with `dr_cb` on and delivery reports served in the background. */
  constructor(producer: RdkafkaProducer, window: ProducerWindow) {
    super(window);
    this.#producer = producer;
    producer.on('delivery-report', (error, report) => this.#onDelivery(error, report));
    producer.on('event.error', (error) => {
      // Fatal: the idempotent producer lost its guarantees (e.g. a sequence gap the broker
      // refused) and librdkafka will fail every message; report it now.
      if (error.isFatal === true)
        this.#failAll(toLogError(error, 'the idempotent producer', 'EXTENTLOG_ERR_LOG_PRODUCE'));
    });
  }

  protected enqueue(
    topic: string,
    partition: number,
    messages: readonly LogMessage[],
  ): Promise<SendResult> {
    return new Promise<SendResult>((resolve, reject) => {
      const pending: PendingSend = {
        topic,
        partition,
        remaining: messages.length,
        baseOffset: Number.POSITIVE_INFINITY,
        resolve,
        reject,
      };
      this.#pending.add(pending);
      try {
        for (const message of messages) {
          this.#producer.produce(
            topic,
            partition,
            message.value,
            message.key,
            message.timestampMs ?? null,
            pending,
            toRdkafkaHeaders(message.headers),
          );
        }
      } catch (error) {
        // Some messages of the send may be queued already: the partition's order is uncertain.
        this.#failAll(
          toLogError(error, `produce to ${topic}[${partition}]`, 'EXTENTLOG_ERR_LOG_PRODUCE', {
            topic,
            partition,
          }),
        );
      }
    });
  }

  protected async disconnect(failed: boolean): Promise<void> {
    // After a failure librdkafka may still hold messages it retries: do not wait for them.
    await new Promise<void>((resolve) =>
      this.#producer.disconnect(failed ? 0 : 5000, () => resolve()),
    );
  }

  #onDelivery(error: RdkafkaError | null, report: RdkafkaDeliveryReport): void {
    const pending = report.opaque as PendingSend | undefined;
    if (pending === undefined || !this.#pending.has(pending)) return;
    if (error !== null && error !== undefined) {
      this.#failAll(
        toLogError(
          error,
          `produce to ${pending.topic}[${pending.partition}]`,
          'EXTENTLOG_ERR_LOG_PRODUCE',
          { topic: pending.topic, partition: pending.partition },
        ),
      );
      return;
    }
    pending.baseOffset = Math.min(pending.baseOffset, report.offset);
    pending.remaining -= 1;
    if (pending.remaining > 0) return;
    this.#pending.delete(pending);
    pending.resolve({
      topic: pending.topic,
      partition: pending.partition,
      baseOffset: pending.baseOffset,
    });
  }

  #failAll(error: LogError): void {
    const failure = this.fail(error);
    for (const pending of this.#pending) pending.reject(failure);
    this.#pending.clear();
  }
}
