/**
 * In-memory fakes of the log port and the record codec for unit tests: partitions are
 * arrays, offsets their indexes (after `expire`, the first ones are gone as retention would
 * remove them), and the codec frames a record as its index in a table.
 */
import type {
  ConsumedMessage,
  LogClient,
  LogMessage,
  LogProducer,
  ReadRangeOptions,
} from '../../log/log-client.js';
import type { ExtentlogRecord } from '../../schemas/extentlog-record.js';

export class FakeCodec {
  readonly #records: ExtentlogRecord[] = [];
  encode(record: ExtentlogRecord): Buffer {
    const frame = Buffer.alloc(4);
    frame.writeUInt32BE(this.#records.push(record) - 1);
    return frame;
  }
  async decode(frame: Buffer): Promise<ExtentlogRecord> {
    const record = this.#records[frame.readUInt32BE(0)];
    if (record === undefined) throw new Error('unknown frame');
    return record;
  }
}

export class FakeLog {
  readonly partitions: LogMessage[][] = [[]];
  startOffset = 0;

  /** Drops every record below `offset`, as retention does. */
  expire(offset: number): void {
    this.startOffset = offset;
  }

  producer(): LogProducer {
    const append = async (partition: number, messages: readonly LogMessage[]) => {
      const log = (this.partitions[partition] ??= []);
      const baseOffset = log.length;
      log.push(...messages);
      return baseOffset;
    };
    return {
      send: async (topic, partition, messages) => ({
        topic,
        partition,
        baseOffset: await append(partition, messages),
      }),
      publish: async (_topic, partition, messages) => void (await append(partition, messages)),
      flush: async () => undefined,
      inFlightBytes: () => 0,
      close: async () => undefined,
    };
  }

  client(): LogClient {
    const unsupported = () => Promise.reject(new Error('not in the fake'));
    return {
      admin: {
        ensureTopic: unsupported,
        deleteTopic: unsupported,
        listTopics: async () => ['topic'],
        offsets: async () =>
          this.partitions.map((log, partition) => ({
            partition,
            startOffset: this.startOffset,
            endOffset: log.length,
          })),
        groupOffsets: unsupported,
        listGroups: unsupported,
      },
      producer: async () => this.producer(),
      consumer: unsupported,
      readRange: (options) => this.#readRange(options),
      close: async () => undefined,
    };
  }

  async *#readRange(options: ReadRangeOptions): AsyncGenerator<ConsumedMessage> {
    const log = this.partitions[options.partition] ?? [];
    const end = Math.min(options.toOffset ?? log.length, log.length);
    for (let offset = Math.max(options.fromOffset, this.startOffset); offset < end; offset += 1) {
      const message = log[offset]!;
      yield {
        topic: options.topic,
        partition: options.partition,
        offset,
        key: message.key,
        value: message.value,
        headers: {},
        timestampMs: 0,
      };
    }
  }
}
