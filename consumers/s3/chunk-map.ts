/**
 * Which chunk object holds each chunk slot of a disk: slot i covers bytes
 * [i × chunkSizeBytes, min((i + 1) × chunkSizeBytes, diskSizeBytes)). An absent slot
 * reads as zeros. Kept compact, as the map of a large disk is held in memory while its
 * epochs replay: 33 bytes per slot (the 32-byte address and one byte for the encoding
 * suffix), 8.25 MiB per TiB of disk at 4 MiB chunks.
 *
 *   ids:      | address 0 (32 B) | address 1 (32 B) | …
 *   suffixes: | s0 | s1 | …        0 = absent, 1 = '', 2 = '.gz', 3 = '.enc', 4 = '.gz.enc'
 */
import { isChunkName } from './bucket-layout.js';

const SUFFIXES = ['', '.gz', '.enc', '.gz.enc'] as const;

export class ChunkMap {
  readonly #ids: Buffer;
  readonly #suffixes: Uint8Array;

  constructor(readonly slotCount: number) {
    this.#ids = Buffer.alloc(slotCount * 32);
    this.#suffixes = new Uint8Array(slotCount);
  }

  static slotsFor(diskSizeBytes: number, chunkSizeBytes: number): number {
    return Math.ceil(diskSizeBytes / chunkSizeBytes);
  }

  get(slot: number): string | null {
    const suffix = this.#suffixes[slot] ?? 0;
    if (suffix === 0) return null;
    return this.#ids.toString('hex', slot * 32, slot * 32 + 32) + SUFFIXES[suffix - 1];
  }

  set(slot: number, name: string | null): void {
    if (slot < 0 || slot >= this.slotCount || !Number.isInteger(slot))
      throw new RangeError(`chunk slot ${slot} outside [0, ${this.slotCount})`);
    if (name === null) {
      this.#suffixes[slot] = 0;
      return;
    }
    if (!isChunkName(name)) throw new RangeError(`not a chunk name: ${JSON.stringify(name)}`);
    this.#ids.write(name.slice(0, 64), slot * 32, 'hex');
    this.#suffixes[slot] = SUFFIXES.indexOf(name.slice(64) as (typeof SUFFIXES)[number]) + 1;
  }

  /** Present slots in ascending order. */
  *entries(): IterableIterator<[number, string]> {
    for (let slot = 0; slot < this.slotCount; slot++) {
      const name = this.get(slot);
      if (name !== null) yield [slot, name];
    }
  }

  presentCount(): number {
    let count = 0;
    for (const suffix of this.#suffixes) if (suffix !== 0) count++;
    return count;
  }

  /** A copy with `slotCount` slots: extra slots are absent, slots past the end dropped. */
  resized(slotCount: number): ChunkMap {
    const copy = new ChunkMap(slotCount);
    const kept = Math.min(slotCount, this.slotCount);
    this.#ids.copy(copy.#ids, 0, 0, kept * 32);
    copy.#suffixes.set(this.#suffixes.subarray(0, kept));
    return copy;
  }
}
