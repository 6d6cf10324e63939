/**
 * Writes Kafka protocol primitives into a list of buffers. Small fields go into a growing
 * scratch buffer; large byte fields (record batches in Fetch responses) are appended by
 * reference, so a response is sent with `writev` without ever copying record data.
 *
 *   chunks: [ scratch 0..k ][ records (borrowed) ][ scratch k.. ] ...
 */

const TWO_POW_32 = 2 ** 32;
/** Byte fields at least this long are borrowed instead of copied. */
const BORROW_THRESHOLD_BYTES = 4096;
const INITIAL_SCRATCH_BYTES = 512;

export class Writer {
  private readonly chunks: Buffer[] = [];
  private scratch: Buffer;
  /** Start of the part of `scratch` not yet pushed to `chunks`. */
  private scratchStart = 0;
  private scratchUsed = 0;
  private flushedBytes = 0;

  constructor(initialBytes = INITIAL_SCRATCH_BYTES) {
    this.scratch = Buffer.allocUnsafe(initialBytes);
  }

  get lengthBytes(): number {
    return this.flushedBytes + this.scratchUsed - this.scratchStart;
  }

  /**
   * Reserves `lengthBytes` in the scratch buffer and returns their position. May replace
   * `this.scratch`: call it before reading `this.scratch` for the write.
   */
  private room(lengthBytes: number): number {
    if (this.scratchUsed + lengthBytes > this.scratch.length) {
      this.flushScratch();
      this.scratch = Buffer.allocUnsafe(Math.max(lengthBytes, this.scratch.length * 2));
      this.scratchStart = 0;
      this.scratchUsed = 0;
    }
    const at = this.scratchUsed;
    this.scratchUsed += lengthBytes;
    return at;
  }

  private flushScratch(): void {
    if (this.scratchUsed > this.scratchStart) {
      this.chunks.push(this.scratch.subarray(this.scratchStart, this.scratchUsed));
      this.flushedBytes += this.scratchUsed - this.scratchStart;
      this.scratchStart = this.scratchUsed;
    }
  }

  int8(value: number): this {
    const at = this.room(1);
    this.scratch.writeInt8(value, at);
    return this;
  }

  boolean(value: boolean): this {
    return this.int8(value ? 1 : 0);
  }

  int16(value: number): this {
    const at = this.room(2);
    this.scratch.writeInt16BE(value, at);
    return this;
  }

  int32(value: number): this {
    const at = this.room(4);
    this.scratch.writeInt32BE(value, at);
    return this;
  }

  /** An int64 from a number (exact below 2^53; -1 encodes as all ones). */
  int64(value: number): this {
    const at = this.room(8);
    const high = Math.floor(value / TWO_POW_32);
    this.scratch.writeInt32BE(high, at);
    this.scratch.writeUInt32BE(value - high * TWO_POW_32, at + 4);
    return this;
  }

  nullableString(value: string | null): this {
    if (value === null) return this.int16(-1);
    const lengthBytes = Buffer.byteLength(value);
    this.int16(lengthBytes);
    const at = this.room(lengthBytes);
    this.scratch.write(value, at, lengthBytes, 'utf8');
    return this;
  }

  string(value: string): this {
    return this.nullableString(value);
  }

  nullableBytes(value: Buffer | null): this {
    if (value === null) return this.int32(-1);
    this.int32(value.length);
    return this.raw(value);
  }

  bytes(value: Buffer): this {
    return this.nullableBytes(value);
  }

  /** Appends bytes without a length prefix; large ones are borrowed, not copied. */
  raw(value: Buffer): this {
    if (value.length >= BORROW_THRESHOLD_BYTES) {
      this.flushScratch();
      this.chunks.push(value);
      this.flushedBytes += value.length;
    } else {
      const at = this.room(value.length);
      value.copy(this.scratch, at);
    }
    return this;
  }

  array<T>(items: readonly T[], writeElement: (writer: this, item: T) => void): this {
    this.int32(items.length);
    for (const item of items) writeElement(this, item);
    return this;
  }

  nullableArray<T>(
    items: readonly T[] | null,
    writeElement: (writer: this, item: T) => void,
  ): this {
    return items === null ? this.int32(-1) : this.array(items, writeElement);
  }

  /**
   * Starts a response frame: a 4-byte size placeholder and response header v0
   * (correlation_id). `frame()` fills in the size.
   */
  static response(correlationId: number): Writer {
    return new Writer().int32(0).int32(correlationId);
  }

  /** The buffers of a frame begun with `response()`, its size field filled in. */
  frame(): Buffer[] {
    const buffers = this.buffers();
    (buffers[0] as Buffer).writeInt32BE(this.lengthBytes - 4, 0);
    return buffers;
  }

  /** The written bytes as a list of buffers (borrowed ones included). */
  buffers(): Buffer[] {
    this.flushScratch();
    return this.chunks;
  }

  /** The written bytes as one buffer (copies; for tests and small messages). */
  toBuffer(): Buffer {
    return Buffer.concat(this.buffers());
  }
}
