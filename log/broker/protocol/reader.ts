/**
 * Reads the primitive types of the Kafka protocol ("Protocol Primitive Types" in the Kafka
 * protocol guide): big-endian fixed-width integers, zig-zag varints, int16-length strings,
 * int32-length bytes and int32-count arrays, each nullable with length -1.
 *
 * Every read checks the remaining length first and throws `ProtocolDecodeError` naming the
 * byte position, so a malformed request can never read past its frame or allocate a huge
 * array from a forged count.
 */

export class ProtocolDecodeError extends Error {
  constructor(
    message: string,
    /** Byte position in the request body (after the 4-byte size) where decoding failed. */
    readonly positionBytes: number,
  ) {
    super(`${message} at byte ${positionBytes}`);
    this.name = 'ProtocolDecodeError';
  }
}

const TWO_POW_32 = 2 ** 32;

export class Reader {
  private positionBytes: number;

  constructor(
    readonly buffer: Buffer,
    startBytes = 0,
    private readonly endBytes = buffer.length,
  ) {
    this.positionBytes = startBytes;
  }

  get position(): number {
    return this.positionBytes;
  }

  remaining(): number {
    return this.endBytes - this.positionBytes;
  }

  private need(lengthBytes: number, what: string): number {
    const start = this.positionBytes;
    if (lengthBytes < 0 || start + lengthBytes > this.endBytes) {
      throw new ProtocolDecodeError(
        `truncated ${what}: needed ${lengthBytes} bytes, ${this.endBytes - start} left`,
        start,
      );
    }
    this.positionBytes = start + lengthBytes;
    return start;
  }

  int8(): number {
    return this.buffer.readInt8(this.need(1, 'int8'));
  }

  boolean(): boolean {
    return this.int8() !== 0;
  }

  int16(): number {
    return this.buffer.readInt16BE(this.need(2, 'int16'));
  }

  int32(): number {
    return this.buffer.readInt32BE(this.need(4, 'int32'));
  }

  uint32(): number {
    return this.buffer.readUInt32BE(this.need(4, 'uint32'));
  }

  /** An int64 as a number: exact for offsets, ids and timestamps below 2^53. */
  int64(): number {
    const at = this.need(8, 'int64');
    return this.buffer.readInt32BE(at) * TWO_POW_32 + this.buffer.readUInt32BE(at + 4);
  }

  /** Zig-zag varint (Kafka's `varint`, at most 5 bytes). */
  varint(): number {
    const start = this.positionBytes;
    let raw = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const byte = this.buffer[this.need(1, 'varint')] as number;
      raw += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
    }
    throw new ProtocolDecodeError('varint longer than 5 bytes', start);
  }

  /** Zig-zag varlong as a number (exact below 2^53, which covers every timestamp delta). */
  varlong(): number {
    const start = this.positionBytes;
    let raw = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      const byte = BigInt(this.buffer[this.need(1, 'varlong')] as number);
      raw |= (byte & 0x7fn) << shift;
      if ((byte & 0x80n) === 0n) return Number((raw >> 1n) ^ -(raw & 1n));
    }
    throw new ProtocolDecodeError('varlong longer than 10 bytes', start);
  }

  nullableString(): string | null {
    const start = this.positionBytes;
    const lengthBytes = this.int16();
    if (lengthBytes === -1) return null;
    if (lengthBytes < -1)
      throw new ProtocolDecodeError(`negative string length ${lengthBytes}`, start);
    const at = this.need(lengthBytes, 'string');
    return this.buffer.toString('utf8', at, at + lengthBytes);
  }

  string(): string {
    const start = this.positionBytes;
    const value = this.nullableString();
    if (value === null) throw new ProtocolDecodeError('null where a string is required', start);
    return value;
  }

  /** A view into the request buffer (no copy): valid as long as the request buffer is. */
  nullableBytes(): Buffer | null {
    const start = this.positionBytes;
    const lengthBytes = this.int32();
    if (lengthBytes === -1) return null;
    if (lengthBytes < -1)
      throw new ProtocolDecodeError(`negative bytes length ${lengthBytes}`, start);
    const at = this.need(lengthBytes, 'bytes');
    return this.buffer.subarray(at, at + lengthBytes);
  }

  bytes(): Buffer {
    const start = this.positionBytes;
    const value = this.nullableBytes();
    if (value === null) throw new ProtocolDecodeError('null where bytes are required', start);
    return value;
  }

  /**
   * An int32-counted array, null for -1. `minElementBytes` bounds the count by the bytes
   * left, so a forged count fails here instead of looping or allocating.
   */
  nullableArray<T>(readElement: (reader: Reader) => T, minElementBytes = 1): T[] | null {
    const start = this.positionBytes;
    const count = this.int32();
    if (count === -1) return null;
    if (count < -1) throw new ProtocolDecodeError(`negative array count ${count}`, start);
    if (count * minElementBytes > this.remaining()) {
      throw new ProtocolDecodeError(
        `array count ${count} exceeds the ${this.remaining()} bytes left`,
        start,
      );
    }
    const elements: T[] = [];
    for (let index = 0; index < count; index++) elements.push(readElement(this));
    return elements;
  }

  array<T>(readElement: (reader: Reader) => T, minElementBytes = 1): T[] {
    const start = this.positionBytes;
    const value = this.nullableArray(readElement, minElementBytes);
    if (value === null) throw new ProtocolDecodeError('null where an array is required', start);
    return value;
  }
}
