/**
 * Reads the blocks a cycle will publish ahead of the feed, in parallel and in listing order,
 * with bounded memory (EBS direct APIs `GetSnapshotBlock`, one 512 KiB block per request).
 *
 *   listed (index, token) ──▶ queue ──▶ up to `concurrency` requests in flight ──▶ held
 *                                        └───── in flight + held ≤ maxHeldBlocks ─────┘
 *   read(index) takes a held block; release(index) frees its slot for the next fetch.
 *
 * Invariant: blocks are fetched in the order they were enqueued and the feed reads them in
 * that same order, so the slots are always held by the blocks read next and waiting for
 * one can never wait on a later one. A token refused as expired is renewed by listing the
 * snapshot again from that block on.
 */
import type { EBSClient } from '@aws-sdk/client-ebs';
import type { AwsCaller } from '../../cloud/aws/aws-caller.js';
import { listSnapshotBlocksPage } from '../../cloud/aws/ebs-block-lists.js';
import { readSnapshotBlock } from '../../cloud/aws/ebs-block-read.js';
import { CloudError } from '../../cloud/errors.js';

interface Slot {
  readonly promise: Promise<Buffer>;
  resolve(data: Buffer): void;
  reject(error: unknown): void;
  started: boolean;
}

export interface PrefetcherOptions {
  readonly caller: AwsCaller;
  readonly ebs: EBSClient;
  readonly snapshotId: string;
  readonly concurrency: number;
  readonly maxHeldBlocks: number;
  readonly onChecksumMismatch?: (blockIndex: number, attempt: number) => void;
}

/** Tokens renewed at once after an expiry: the rest of the listing has usually expired too. */
const RENEW_BATCH = 1000;

export class BlockPrefetcher {
  readonly #queue: { blockIndex: number; token: string }[] = [];
  #queueHead = 0;
  readonly #slots = new Map<number, Slot>();
  readonly #renewed = new Map<number, string>();
  #inFlight = 0;
  #occupied = 0;
  #failed: unknown = null;
  #stopped = false;

  constructor(private readonly options: PrefetcherOptions) {}

  enqueue(blockIndex: number, token: string): void {
    if (this.#stopped) return;
    let resolve!: (data: Buffer) => void;
    let reject!: (error: unknown) => void;
    const promise = new Promise<Buffer>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    promise.catch(() => undefined); // failures surface through read(); unread ones are dropped
    this.#slots.set(blockIndex, { promise, resolve, reject, started: false });
    if (this.#failed !== null) reject(this.#failed);
    this.#queue.push({ blockIndex, token });
    this.#pump();
  }

  /** The block's data, once fetched and verified; call release() when done with it. */
  read(blockIndex: number): Promise<Buffer> {
    const slot = this.#slots.get(blockIndex);
    if (slot === undefined)
      return Promise.reject(
        new Error(`block ${blockIndex} of ${this.options.snapshotId} was not listed for reading`),
      );
    return slot.promise;
  }

  release(blockIndex: number): void {
    const slot = this.#slots.get(blockIndex);
    if (slot === undefined) return;
    this.#slots.delete(blockIndex);
    if (slot.started) this.#occupied -= 1;
    this.#pump();
  }

  /** Stops fetching; blocks in flight finish and are dropped, reads not served fail. */
  stop(reason: unknown = new Error('the cycle ended')): void {
    this.#stopped = true;
    this.#queue.length = 0;
    this.#queueHead = 0;
    for (const slot of this.#slots.values()) slot.reject(reason);
    this.#slots.clear();
  }

  /** After one block failed for good, no read may wait on a block that will not come. */
  #fail(error: unknown): void {
    this.#failed ??= error;
    for (const slot of this.#slots.values()) if (!slot.started) slot.reject(this.#failed);
  }

  #pump(): void {
    while (
      !this.#stopped &&
      this.#failed === null &&
      this.#queueHead < this.#queue.length &&
      this.#inFlight < this.options.concurrency &&
      this.#occupied < this.options.maxHeldBlocks
    ) {
      const entry = this.#queue[this.#queueHead++]!;
      if (this.#queueHead > 4096) {
        this.#queue.splice(0, this.#queueHead);
        this.#queueHead = 0;
      }
      const slot = this.#slots.get(entry.blockIndex);
      if (slot === undefined) continue;
      slot.started = true;
      this.#inFlight += 1;
      this.#occupied += 1;
      this.#fetch(entry.blockIndex, entry.token).then(
        (data) => {
          this.#inFlight -= 1;
          slot.resolve(data);
          this.#pump();
        },
        (error: unknown) => {
          this.#inFlight -= 1;
          slot.reject(error);
          this.#fail(error);
        },
      );
    }
  }

  async #fetch(blockIndex: number, listedToken: string): Promise<Buffer> {
    const { caller, ebs, snapshotId } = this.options;
    const read = (token: string) =>
      readSnapshotBlock(caller, ebs, snapshotId, blockIndex, token, {
        ...(this.options.onChecksumMismatch === undefined
          ? {}
          : { onChecksumMismatch: this.options.onChecksumMismatch }),
      }).then((block) => block.data);
    const token = this.#renewed.get(blockIndex) ?? listedToken;
    this.#renewed.delete(blockIndex);
    try {
      return await read(token);
    } catch (error) {
      if (!(error instanceof CloudError) || error.details.awsReason !== 'INVALID_BLOCK_TOKEN')
        throw error;
      const renewed = await this.#renew(blockIndex);
      if (renewed === null)
        throw new CloudError(
          'EXTENTLOG_ERR_CLOUD_BLOCK_TOKEN',
          `GetSnapshotBlock ${snapshotId} block ${blockIndex}: its token was refused and the snapshot no longer lists the block (${error.message})`,
          { cause: error, details: { snapshotId, blockIndex } },
        );
      try {
        return await read(renewed);
      } catch (again) {
        if (again instanceof CloudError && again.details.awsReason === 'INVALID_BLOCK_TOKEN')
          throw new CloudError(
            'EXTENTLOG_ERR_CLOUD_BLOCK_TOKEN',
            `GetSnapshotBlock ${snapshotId} block ${blockIndex}: a freshly listed token was refused too (${again.message}); check the clocks and the snapshot`,
            { cause: again, details: { snapshotId, blockIndex } },
          );
        throw again;
      }
    }
  }

  /** Lists the snapshot from `blockIndex` on and keeps the fresh tokens for the blocks still to fetch. */
  async #renew(blockIndex: number): Promise<string | null> {
    const page = await listSnapshotBlocksPage(
      this.options.caller,
      this.options.ebs,
      this.options.snapshotId,
      { startingBlockIndex: blockIndex, maxResults: RENEW_BATCH },
    );
    let found: string | null = null;
    for (const block of page.blocks) {
      if (block.token === null) continue;
      if (block.blockIndex === blockIndex) found = block.token;
      else if (this.#slots.get(block.blockIndex)?.started === false)
        this.#renewed.set(block.blockIndex, block.token);
    }
    return found;
  }
}
