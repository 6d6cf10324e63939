/**
 * Paging through the blocks of EBS snapshots (EBS direct APIs `ListSnapshotBlocks`,
 * `GET /snapshots/{id}/blocks`, and `ListChangedBlocks`,
 * `GET /snapshots/{second}/changedblocks?firstSnapshotId=…`). Pages hold up to MaxResults
 * (100–10000) entries in ascending block index order and may be empty while NextToken is
 * still set; a page started at StartingBlockIndex covers every listed block from there up
 * to its last entry (or to the end when NextToken is absent). Block tokens expire at the
 * page's ExpiryTime.
 */
import {
  ListChangedBlocksCommand,
  ListSnapshotBlocksCommand,
  type EBSClient,
} from '@aws-sdk/client-ebs';
import type { AwsCaller } from './aws-caller.js';

/** One listed block: `token` reads it from the snapshot; null when absent there (changed lists). */
export interface ListedBlock {
  readonly blockIndex: number;
  readonly token: string | null;
  /** Changed lists: the token of the first snapshot, if the block is there. */
  readonly firstToken?: string | null;
}

export interface BlockPage {
  readonly blocks: readonly ListedBlock[];
  readonly volumeSizeGiB: number | null;
  readonly blockSizeBytes: number | null;
  readonly expiresAtMs: number | null;
  readonly nextToken: string | null;
}

export interface ListOptions {
  readonly startingBlockIndex?: number;
  readonly maxResults?: number;
}

export const DEFAULT_MAX_RESULTS = 10_000;

interface ListResponse {
  readonly VolumeSize?: number;
  readonly BlockSize?: number;
  readonly ExpiryTime?: Date;
  readonly NextToken?: string;
}

/** NextToken continues a listing; StartingBlockIndex (ignored with a NextToken) starts one. */
function pagingOf(options: ListOptions & { readonly nextToken?: string | null }) {
  return {
    MaxResults: options.maxResults ?? DEFAULT_MAX_RESULTS,
    ...(options.nextToken
      ? { NextToken: options.nextToken }
      : { StartingBlockIndex: options.startingBlockIndex ?? 0 }),
  };
}

function pageOf(response: ListResponse, blocks: ListedBlock[]): BlockPage {
  return {
    blocks,
    volumeSizeGiB: response.VolumeSize ?? null,
    blockSizeBytes: response.BlockSize ?? null,
    expiresAtMs: response.ExpiryTime?.getTime() ?? null,
    nextToken: response.NextToken ?? null,
  };
}

export async function listSnapshotBlocksPage(
  caller: AwsCaller,
  ebs: EBSClient,
  snapshotId: string,
  options: ListOptions & { readonly nextToken?: string | null },
): Promise<BlockPage> {
  const response = await caller.call(`ListSnapshotBlocks ${snapshotId}`, () =>
    ebs.send(
      new ListSnapshotBlocksCommand({
        SnapshotId: snapshotId,
        ...pagingOf(options),
      }),
    ),
  );
  return pageOf(
    response,
    (response.Blocks ?? []).map((block) => ({
      blockIndex: block.BlockIndex ?? -1,
      token: block.BlockToken ?? null,
    })),
  );
}

export async function listChangedBlocksPage(
  caller: AwsCaller,
  ebs: EBSClient,
  firstSnapshotId: string,
  secondSnapshotId: string,
  options: ListOptions & { readonly nextToken?: string | null },
): Promise<BlockPage> {
  const response = await caller.call(
    `ListChangedBlocks ${firstSnapshotId} → ${secondSnapshotId}`,
    () =>
      ebs.send(
        new ListChangedBlocksCommand({
          FirstSnapshotId: firstSnapshotId,
          SecondSnapshotId: secondSnapshotId,
          ...pagingOf(options),
        }),
      ),
  );
  return pageOf(
    response,
    (response.ChangedBlocks ?? []).map((block) => ({
      blockIndex: block.BlockIndex ?? -1,
      token: block.SecondBlockToken ?? null,
      firstToken: block.FirstBlockToken ?? null,
    })),
  );
}

/** Every page from `startingBlockIndex` on, lazily. */
export async function* pagesOf(
  fetchPage: (nextToken: string | null) => Promise<BlockPage>,
): AsyncGenerator<BlockPage> {
  let nextToken: string | null = null;
  do {
    const page: BlockPage = await fetchPage(nextToken);
    yield page;
    nextToken = page.nextToken;
  } while (nextToken !== null);
}

/**
 * Which blocks a completed snapshot holds, and their tokens, for lookups in mostly ascending
 * order (read-modify-write against a parent, restore reads): one page is kept, and a
 * lookup outside it lists a page from that index on.
 */
export class SnapshotBlockIndex {
  #page: { fromIndex: number; toIndex: number; tokens: Map<number, string> } | null = null;

  constructor(
    private readonly caller: AwsCaller,
    private readonly ebs: EBSClient,
    readonly snapshotId: string,
    private readonly maxResults = 1000,
  ) {}

  /** The block's token, or null when the snapshot does not hold the block (it reads as zeros). */
  async tokenOf(blockIndex: number): Promise<string | null> {
    const page = this.#page;
    if (page === null || blockIndex < page.fromIndex || blockIndex >= page.toIndex)
      await this.#load(blockIndex);
    return this.#page!.tokens.get(blockIndex) ?? null;
  }

  /** Forgets the cached tokens (after one was refused as expired). */
  invalidate(): void {
    this.#page = null;
  }

  async #load(fromIndex: number): Promise<void> {
    const tokens = new Map<number, string>();
    let toIndex = fromIndex;
    // Pages may come back empty with a NextToken: keep going until one lists something.
    for await (const page of pagesOf((nextToken) =>
      listSnapshotBlocksPage(this.caller, this.ebs, this.snapshotId, {
        startingBlockIndex: fromIndex,
        maxResults: this.maxResults,
        nextToken,
      }),
    )) {
      for (const block of page.blocks)
        if (block.token !== null) tokens.set(block.blockIndex, block.token);
      const last = page.blocks.at(-1);
      if (page.nextToken === null) {
        toIndex = Number.POSITIVE_INFINITY;
        break;
      }
      if (last !== undefined) {
        toIndex = last.blockIndex + 1;
        break;
      }
    }
    this.#page = { fromIndex, toIndex, tokens };
  }
}
