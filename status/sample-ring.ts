/**
 * A fixed-capacity ring of samples, oldest overwritten first: the lag history behind the
 * status page's chart, bounded in memory however long the process runs.
 *
 *   capacity 6, 8 pushed:   slots [ s6 | s7 | s2 | s3 | s4 | s5 ]
 *                                          ▲ next (oldest)
 *   toArray() → s2 s3 s4 s5 s6 s7
 */
export class SampleRing<T> {
  readonly #slots: (T | undefined)[];
  #next = 0;
  #size = 0;

  constructor(readonly capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1)
      throw new RangeError(`ring capacity must be a positive integer, received ${capacity}`);
    this.#slots = new Array<T | undefined>(capacity);
  }

  get size(): number {
    return this.#size;
  }

  push(sample: T): void {
    this.#slots[this.#next] = sample;
    this.#next = (this.#next + 1) % this.capacity;
    this.#size = Math.min(this.capacity, this.#size + 1);
  }

  /** The newest sample, or undefined when empty. */
  newest(): T | undefined {
    return this.#size === 0
      ? undefined
      : this.#slots[(this.#next - 1 + this.capacity) % this.capacity];
  }

  /** Oldest first. */
  toArray(): T[] {
    const start = (this.#next - this.#size + this.capacity) % this.capacity;
    const out: T[] = [];
    for (let index = 0; index < this.#size; index += 1)
      out.push(this.#slots[(start + index) % this.capacity] as T);
    return out;
  }
}
