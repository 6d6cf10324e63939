/**
 * Fault injection of the emulator, set by tests: every Nth API request (counted over all
 * requests of both APIs, faulted ones included) answers with a throttling error (EBS:
 * ThrottlingException and RequestThrottledException in turn; EC2: RequestLimitExceeded) or
 * an HTTP 503; every Nth GetSnapshotBlock, and every read of the blocks named, carries a
 * checksum that does not match its data, and every Nth GetSnapshotBlock finds its token
 * expired.
 */
export interface FaultPlan {
  readonly throttleEvery?: number;
  readonly unavailableEvery?: number;
  readonly corruptBlockEvery?: number;
  /** Every Nth GetSnapshotBlock refuses its token as expired (as if the listing were old). */
  readonly expireBlockTokenEvery?: number;
  /** `${snapshotId}:${blockIndex}` of blocks whose every read is corrupt. */
  readonly corruptBlocks?: readonly string[];
}

export type RequestFault = 'throttle' | 'unavailable' | null;

export class Faults {
  #plan: FaultPlan = {};
  #requests = 0;
  #blockReads = 0;
  #tokenChecks = 0;
  readonly #expiredOnce = new Set<string>();
  injected = { throttle: 0, unavailable: 0, corrupt: 0, expiredToken: 0 };

  set(plan: FaultPlan): void {
    this.#plan = plan;
    this.#requests = 0;
    this.#blockReads = 0;
    this.#tokenChecks = 0;
  }

  /** A block's token is refused as expired at most once, so that listing again helps. */
  expireToken(snapshotId: string, blockIndex: number): boolean {
    this.#tokenChecks += 1;
    const every = this.#plan.expireBlockTokenEvery;
    const key = `${snapshotId}:${blockIndex}`;
    const expire =
      every !== undefined && this.#tokenChecks % every === 0 && !this.#expiredOnce.has(key);
    if (expire) {
      this.injected.expiredToken += 1;
      this.#expiredOnce.add(key);
    }
    return expire;
  }

  nextRequest(): RequestFault {
    this.#requests += 1;
    const { throttleEvery, unavailableEvery } = this.#plan;
    if (throttleEvery !== undefined && this.#requests % throttleEvery === 0) {
      this.injected.throttle += 1;
      return 'throttle';
    }
    if (unavailableEvery !== undefined && this.#requests % unavailableEvery === 0) {
      this.injected.unavailable += 1;
      return 'unavailable';
    }
    return null;
  }

  corruptRead(snapshotId: string, blockIndex: number): boolean {
    this.#blockReads += 1;
    const every = this.#plan.corruptBlockEvery;
    const corrupt =
      (every !== undefined && this.#blockReads % every === 0) ||
      (this.#plan.corruptBlocks?.includes(`${snapshotId}:${blockIndex}`) ?? false);
    if (corrupt) this.injected.corrupt += 1;
    return corrupt;
  }
}
