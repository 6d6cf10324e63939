/**
 * A budget of bytes shared by concurrent callers: `acquire(n)` waits while the budget is
 * spent, `release(n)` gives bytes back. Waiters are served in arrival order, so a large
 * request is not starved by small ones. A single request larger than the whole budget is
 * admitted when nothing else is outstanding, so it can never deadlock.
 */
export class ByteBudget {
  #used = 0;
  readonly #waiters: { bytes: number; resume: () => void }[] = [];

  constructor(readonly limitBytes: number) {
    if (!Number.isSafeInteger(limitBytes) || limitBytes <= 0) {
      throw new RangeError(`byte budget must be a positive integer, received ${limitBytes}`);
    }
  }

  get usedBytes(): number {
    return this.#used;
  }

  async acquire(bytes: number): Promise<void> {
    if (this.#waiters.length === 0 && this.#fits(bytes)) {
      this.#used += bytes;
      return;
    }
    await new Promise<void>((resume) => this.#waiters.push({ bytes, resume }));
  }

  release(bytes: number): void {
    this.#used -= bytes;
    if (this.#used < 0)
      throw new RangeError(`released more bytes than acquired (${-this.#used} too many)`);
    while (this.#waiters.length > 0) {
      const next = this.#waiters[0]!;
      if (!this.#fits(next.bytes)) break;
      this.#waiters.shift();
      this.#used += next.bytes;
      next.resume();
    }
  }

  #fits(bytes: number): boolean {
    return this.#used === 0 || this.#used + bytes <= this.limitBytes;
  }
}
