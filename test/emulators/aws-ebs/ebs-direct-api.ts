/**
 * The EBS direct APIs (API version 2019-11-02, REST-JSON, signing name `ebs`):
 *
 *   POST /snapshots                                   StartSnapshot → 201 JSON
 *   PUT  /snapshots/{id}/blocks/{index}               PutSnapshotBlock (x-amz-Data-Length,
 *                                                     x-amz-Checksum[-Algorithm]) → 201
 *   POST /snapshots/completion/{id}                   CompleteSnapshot (x-amz-ChangedBlocksCount,
 *                                                     x-amz-Checksum-Aggregation-Method) → 202
 *   GET  /snapshots/{id}/blocks?maxResults&pageToken&startingBlockIndex   ListSnapshotBlocks
 *   GET  /snapshots/{second}/changedblocks?firstSnapshotId&…             ListChangedBlocks
 *   GET  /snapshots/{id}/blocks/{index}?blockToken=…  GetSnapshotBlock → 200 octets
 *
 * Errors: the status code, `x-amzn-ErrorType: <code>` and a JSON body `{message, Reason}`.
 * Timestamps (StartTime, ExpiryTime) are epoch seconds.
 */
import { createHash } from 'node:crypto';
import { ApiError, type ApiResponse } from './api-error.js';
import type { Faults } from './faults.js';
import { BLOCK_BYTES, GiB, type Snapshot, type SnapshotStore } from './snapshot-store.js';
import type { TokenMint } from './tokens.js';

export interface EbsContext {
  readonly store: SnapshotStore;
  readonly mint: TokenMint;
  readonly faults: Faults;
  readonly ownerId: string;
  readonly blockTokenTtlMs: number;
  readonly nowMs: number;
}

export interface EbsRequest {
  readonly method: string;
  readonly segments: readonly string[];
  readonly query: URLSearchParams;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

/** The operation a request addresses, for the request log; null when none matches. */
export function ebsOperation(method: string, segments: readonly string[]): string | null {
  const [root, id, what, index] = segments;
  if (root !== 'snapshots') return null;
  if (method === 'POST' && segments.length === 1) return 'StartSnapshot';
  if (method === 'POST' && id === 'completion' && segments.length === 3) return 'CompleteSnapshot';
  if (method === 'GET' && what === 'blocks' && segments.length === 3) return 'ListSnapshotBlocks';
  if (method === 'GET' && what === 'changedblocks' && segments.length === 3)
    return 'ListChangedBlocks';
  if (what === 'blocks' && index !== undefined && segments.length === 4)
    return method === 'GET' ? 'GetSnapshotBlock' : method === 'PUT' ? 'PutSnapshotBlock' : null;
  return null;
}

function json(status: number, value: unknown): ApiResponse {
  return {
    status,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(value),
  };
}

function header(request: EbsRequest, name: string): string | undefined {
  const value = request.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

function validation(reason: string, message: string): ApiError {
  return new ApiError(400, 'ValidationException', message, reason);
}

function snapshotOf(context: EbsContext, snapshotId: string | undefined): Snapshot {
  const snapshot = snapshotId === undefined ? undefined : context.store.snapshots.get(snapshotId);
  if (snapshot === undefined)
    throw new ApiError(
      404,
      'ResourceNotFoundException',
      `The snapshot '${snapshotId}' does not exist.`,
      'SNAPSHOT_NOT_FOUND',
    );
  return snapshot;
}

function completedSnapshotOf(context: EbsContext, snapshotId: string | undefined): Snapshot {
  const snapshot = snapshotOf(context, snapshotId);
  if (snapshot.state !== 'completed')
    throw validation(
      'INVALID_SNAPSHOT_ID',
      `The snapshot '${snapshotId}' is ${snapshot.state}; only completed snapshots can be read.`,
    );
  return snapshot;
}

function blockIndexOf(value: string | undefined, snapshot: Snapshot): number {
  const index = Number(value);
  if (!Number.isSafeInteger(index) || index < 0 || index >= (snapshot.sizeGiB * GiB) / BLOCK_BYTES)
    throw validation(
      'INVALID_BLOCK',
      `Block index ${value} is outside the snapshot's ${snapshot.sizeGiB} GiB.`,
    );
  return index;
}

/** MaxResults is 100–10000; fewer than 100 are served as 100 (API reference, FAQ). */
function maxResultsOf(request: EbsRequest): number {
  const raw = request.query.get('maxResults');
  if (raw === null) return 10_000;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 1 || value > 10_000)
    throw validation('INVALID_PARAMETER_VALUE', `maxResults must be 100–10000, received ${raw}.`);
  return Math.max(100, value);
}

function startIndexOf(context: EbsContext, request: EbsRequest, listing: string): number {
  const pageToken = request.query.get('pageToken');
  if (pageToken !== null) {
    const next = context.mint.readPageToken(pageToken, listing);
    if (next === null) throw validation('INVALID_PAGE_TOKEN', 'The pagination token is invalid.');
    return next;
  }
  const start = Number(request.query.get('startingBlockIndex') ?? '0');
  if (!Number.isSafeInteger(start) || start < 0)
    throw validation('INVALID_PARAMETER_VALUE', 'startingBlockIndex must be >= 0.');
  return start;
}

/** One page of ascending block indexes from `start`, with the token of the next page. */
function page(
  context: EbsContext,
  indexes: Iterable<number>,
  start: number,
  maxResults: number,
  listing: string,
): { indexes: number[]; nextToken: string | undefined } {
  const sorted = [...indexes].filter((index) => index >= start).sort((a, b) => a - b);
  const taken = sorted.slice(0, maxResults);
  const more = sorted.length > maxResults;
  return {
    indexes: taken,
    nextToken: more ? context.mint.pageToken(listing, taken.at(-1)! + 1) : undefined,
  };
}

function listSnapshotBlocks(context: EbsContext, request: EbsRequest): ApiResponse {
  const snapshot = completedSnapshotOf(context, request.segments[1]);
  const listing = `blocks:${snapshot.snapshotId}`;
  const expiresAtMs = context.nowMs + context.blockTokenTtlMs;
  const { indexes, nextToken } = page(
    context,
    snapshot.blocks.keys(),
    startIndexOf(context, request, listing),
    maxResultsOf(request),
    listing,
  );
  return json(200, {
    Blocks: indexes.map((index) => ({
      BlockIndex: index,
      BlockToken: context.mint.blockToken(snapshot.snapshotId, index, expiresAtMs),
    })),
    ExpiryTime: expiresAtMs / 1000,
    VolumeSize: snapshot.sizeGiB,
    BlockSize: BLOCK_BYTES,
    ...(nextToken === undefined ? {} : { NextToken: nextToken }),
  });
}

function listChangedBlocks(context: EbsContext, request: EbsRequest): ApiResponse {
  const second = completedSnapshotOf(context, request.segments[1]);
  const firstId = request.query.get('firstSnapshotId');
  const first = firstId === null ? null : completedSnapshotOf(context, firstId);
  if (first !== null && first.lineage !== second.lineage)
    throw validation(
      'UNRELATED_SNAPSHOTS',
      `The snapshots '${first.snapshotId}' and '${second.snapshotId}' are not of the same lineage.`,
    );
  const listing = `changed:${first?.snapshotId ?? ''}:${second.snapshotId}`;
  const changed = new Set<number>();
  for (const [index, digest] of second.blocks)
    if (first?.blocks.get(index) !== digest) changed.add(index);
  if (first !== null)
    for (const index of first.blocks.keys()) if (!second.blocks.has(index)) changed.add(index);
  const expiresAtMs = context.nowMs + context.blockTokenTtlMs;
  const { indexes, nextToken } = page(
    context,
    changed,
    startIndexOf(context, request, listing),
    maxResultsOf(request),
    listing,
  );
  return json(200, {
    ChangedBlocks: indexes.map((index) => ({
      BlockIndex: index,
      ...(first?.blocks.has(index)
        ? { FirstBlockToken: context.mint.blockToken(first.snapshotId, index, expiresAtMs) }
        : {}),
      ...(second.blocks.has(index)
        ? { SecondBlockToken: context.mint.blockToken(second.snapshotId, index, expiresAtMs) }
        : {}),
    })),
    ExpiryTime: expiresAtMs / 1000,
    VolumeSize: second.sizeGiB,
    BlockSize: BLOCK_BYTES,
    ...(nextToken === undefined ? {} : { NextToken: nextToken }),
  });
}

async function getSnapshotBlock(context: EbsContext, request: EbsRequest): Promise<ApiResponse> {
  const snapshot = completedSnapshotOf(context, request.segments[1]);
  const index = blockIndexOf(request.segments[3], snapshot);
  const token = request.query.get('blockToken') ?? '';
  const check = context.faults.expireToken(snapshot.snapshotId, index)
    ? 'expired'
    : context.mint.checkBlockToken(token, snapshot.snapshotId, index, context.nowMs);
  if (check === 'expired')
    throw validation('INVALID_BLOCK_TOKEN', 'The block token has expired: list the block again.');
  const digest = snapshot.blocks.get(index);
  if (check === 'invalid' || digest === undefined)
    throw validation('INVALID_BLOCK_TOKEN', 'The block token is not valid for this block.');
  const data = await context.store.readContent(digest);
  // Contents are stored under their SHA-256 (snapshot-store.ts): the checksum is the name.
  let checksum = Buffer.from(digest, 'hex').toString('base64');
  if (context.faults.corruptRead(snapshot.snapshotId, index)) {
    data[12345] = (data[12345] ?? 0) ^ 0x5a; // a bit flip in transit: the checksum is the original's
    checksum = createHash('sha256').update(Buffer.from('corrupt')).digest('base64');
  }
  return {
    status: 200,
    headers: {
      'content-type': 'application/octet-stream',
      'x-amz-Data-Length': String(BLOCK_BYTES),
      'x-amz-Checksum': checksum,
      'x-amz-Checksum-Algorithm': 'SHA256',
    },
    body: data,
  };
}

function startSnapshot(context: EbsContext, request: EbsRequest): ApiResponse {
  let input: {
    VolumeSize?: number;
    ParentSnapshotId?: string;
    Tags?: { Key?: string; Value?: string }[];
    Description?: string;
    ClientToken?: string;
    Timeout?: number;
  };
  try {
    input = JSON.parse(request.body.toString('utf8') || '{}') as typeof input;
  } catch {
    throw validation('INVALID_PARAMETER_VALUE', 'The request body is not JSON.');
  }
  const sizeGiB = input.VolumeSize;
  if (!Number.isSafeInteger(sizeGiB) || sizeGiB! < 1 || sizeGiB! > 65_536)
    throw validation('INVALID_VOLUME_SIZE', `VolumeSize must be 1–65536 GiB, received ${sizeGiB}.`);
  if (input.ClientToken !== undefined) {
    for (const existing of context.store.snapshots.values())
      if (existing.clientToken === input.ClientToken) return json(201, describe(context, existing));
  }
  const parent =
    input.ParentSnapshotId === undefined
      ? null
      : completedSnapshotOf(context, input.ParentSnapshotId);
  if (parent !== null && parent.sizeGiB > sizeGiB!)
    throw validation(
      'INVALID_VOLUME_SIZE',
      `VolumeSize ${sizeGiB} GiB is smaller than the parent snapshot's ${parent.sizeGiB} GiB.`,
    );
  const timeoutMinutes = input.Timeout ?? 60;
  if (!Number.isSafeInteger(timeoutMinutes) || timeoutMinutes < 10 || timeoutMinutes > 4320)
    throw validation(
      'INVALID_PARAMETER_VALUE',
      `Timeout must be 10–4320 minutes, received ${timeoutMinutes}.`,
    );
  const tags = new Map<string, string>();
  for (const tag of input.Tags ?? []) {
    if (
      tag.Key === undefined ||
      tag.Key === '' ||
      tag.Key.length > 127 ||
      (tag.Value ?? '').length > 255
    )
      throw validation('INVALID_TAG', `Tag ${JSON.stringify(tag)} is not valid.`);
    tags.set(tag.Key, tag.Value ?? '');
  }
  const snapshot = context.store.startSnapshot({
    sizeGiB: sizeGiB!,
    parent,
    description: input.Description ?? '',
    tags,
    clientToken: input.ClientToken ?? null,
    timeoutMinutes,
  });
  return json(201, describe(context, snapshot));
}

function describe(context: EbsContext, snapshot: Snapshot) {
  return {
    SnapshotId: snapshot.snapshotId,
    OwnerId: context.ownerId,
    Status: snapshot.state,
    StartTime: snapshot.startedAtMs / 1000,
    VolumeSize: snapshot.sizeGiB,
    BlockSize: BLOCK_BYTES,
    Description: snapshot.description,
    Tags: [...snapshot.tags].map(([Key, Value]) => ({ Key, Value })),
    ...(snapshot.parentId === null ? {} : { ParentSnapshotId: snapshot.parentId }),
  };
}

function writableSnapshotOf(context: EbsContext, snapshotId: string | undefined): Snapshot {
  const snapshot = snapshotOf(context, snapshotId);
  context.store.expireIdle(snapshot, context.nowMs);
  if (!snapshot.writable)
    throw validation(
      'INVALID_SNAPSHOT_ID',
      `The snapshot '${snapshotId}' is ${snapshot.state} and does not accept blocks${snapshot.stateMessage ? `: ${snapshot.stateMessage}` : ''}.`,
    );
  return snapshot;
}

async function putSnapshotBlock(context: EbsContext, request: EbsRequest): Promise<ApiResponse> {
  const snapshot = writableSnapshotOf(context, request.segments[1]);
  const index = blockIndexOf(request.segments[3], snapshot);
  const dataLength = Number(header(request, 'x-amz-Data-Length'));
  if (dataLength !== BLOCK_BYTES || request.body.length !== BLOCK_BYTES)
    throw validation(
      'INVALID_PARAMETER_VALUE',
      `x-amz-Data-Length must be ${BLOCK_BYTES} and match the body; received ${dataLength} and ${request.body.length} bytes.`,
    );
  if (header(request, 'x-amz-Checksum-Algorithm') !== 'SHA256')
    throw validation('INVALID_PARAMETER_VALUE', 'x-amz-Checksum-Algorithm must be SHA256.');
  const digest = createHash('sha256').update(request.body).digest();
  const checksum = digest.toString('base64');
  if (header(request, 'x-amz-Checksum') !== checksum)
    throw validation(
      'INVALID_PARAMETER_VALUE',
      `x-amz-Checksum does not match the SHA256 of the block data (${checksum}).`,
    );
  const stored = await context.store.putContent(request.body);
  // Writing a block again replaces it: the last write wins.
  snapshot.written.set(index, stored);
  snapshot.blocks.set(index, stored);
  snapshot.lastWriteAtMs = context.nowMs;
  return {
    status: 201,
    headers: { 'x-amz-Checksum': checksum, 'x-amz-Checksum-Algorithm': 'SHA256' },
  };
}

function completeSnapshot(context: EbsContext, request: EbsRequest): ApiResponse {
  const snapshot = writableSnapshotOf(context, request.segments[2]);
  const count = Number(header(request, 'x-amz-ChangedBlocksCount'));
  if (!Number.isSafeInteger(count) || count < 0)
    throw validation('INVALID_PARAMETER_VALUE', 'x-amz-ChangedBlocksCount is required.');
  snapshot.writable = false;
  const fail = (message: string) => {
    snapshot.state = 'error';
    snapshot.stateMessage = message;
    return json(202, { Status: 'error' });
  };
  if (count !== snapshot.written.size)
    return fail(
      `ChangedBlocksCount ${count} does not match the ${snapshot.written.size} blocks written`,
    );
  const checksum = header(request, 'x-amz-Checksum');
  if (checksum !== undefined) {
    if (
      header(request, 'x-amz-Checksum-Algorithm') !== 'SHA256' ||
      header(request, 'x-amz-Checksum-Aggregation-Method') !== 'LINEAR'
    )
      return fail('the aggregate checksum must be SHA256, LINEAR');
    const hash = createHash('sha256');
    for (const index of [...snapshot.written.keys()].sort((a, b) => a - b))
      hash.update(Buffer.from(snapshot.written.get(index)!, 'hex'));
    if (hash.digest('base64') !== checksum)
      return fail('the aggregate checksum does not match the blocks written');
  }
  return json(202, { Status: 'pending' });
}

export async function handleEbs(context: EbsContext, request: EbsRequest): Promise<ApiResponse> {
  switch (ebsOperation(request.method, request.segments)) {
    case 'StartSnapshot':
      return startSnapshot(context, request);
    case 'CompleteSnapshot':
      return completeSnapshot(context, request);
    case 'ListSnapshotBlocks':
      return listSnapshotBlocks(context, request);
    case 'ListChangedBlocks':
      return listChangedBlocks(context, request);
    case 'GetSnapshotBlock':
      return getSnapshotBlock(context, request);
    case 'PutSnapshotBlock':
      return putSnapshotBlock(context, request);
    default:
      throw new ApiError(
        404,
        'UnknownOperationException',
        `No operation at ${request.method} /${request.segments.join('/')}`,
      );
  }
}
