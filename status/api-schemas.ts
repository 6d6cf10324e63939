/**
 * JSON Schemas (draft-07, as Fastify's Ajv speaks it) of every request and response of the
 * status API. Fastify validates requests against them and serializes responses through
 * them (fields not in a schema are not sent); @fastify/swagger turns them into the OpenAPI
 * 3.1 document at `/openapi.json`. Shared shapes are registered once by `$id`.
 */

const nullable = (type: string) => ({ type: [type, 'null'] }) as const;
const integer = { type: 'integer' } as const;
const string = { type: 'string' } as const;
const timeMs = { type: 'integer', description: 'milliseconds since 1970-01-01T00:00:00Z' } as const;

/** Names of feeds and targets, as the configuration accepts them. */
export const NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$';

const name = { type: 'string', pattern: NAME_PATTERN } as const;
const diskId = { type: 'string', minLength: 1, maxLength: 256 } as const;

/**
 * A response object: every property required. Unknown properties are allowed, not refused:
 * the serializer sends only the listed ones, and a `anyOf` branch must still match a view
 * that carries more fields than the API shows.
 */
const object = <P extends Record<string, unknown>>(properties: P, description?: string) =>
  ({
    type: 'object',
    required: Object.keys(properties),
    properties,
    ...(description === undefined ? {} : { description }),
  }) as const;

export const SHARED_SCHEMAS = [
  {
    $id: 'Error',
    ...object({ statusCode: integer, code: string, error: string, message: string }),
    description: 'Every failed request: `code` is listed in docs/errors.md.',
  },
  {
    $id: 'ErrorEvent',
    ...object({
      code: string,
      message: string,
      atMs: timeMs,
      component: { type: 'string', enum: ['feed', 'target'] },
      name: string,
      feed: string,
      diskId: string,
    }),
  },
  {
    $id: 'LastError',
    type: ['object', 'null'],
    required: ['code', 'message', 'atMs'],
    properties: { code: string, message: string, atMs: timeMs },
  },
  {
    $id: 'RestorePoint',
    ...object({
      target: string,
      feed: string,
      disk: string,
      epoch: integer,
      sourceReference: string,
      digest: { type: 'string', description: 'SHA-256 over the epoch records, hex' },
      diskSizeBytes: integer,
      committedAtMs: {
        ...timeMs,
        description: 'source time of the SyncCommit: the point in time the restore point holds',
      },
      durableAtMs: { ...timeMs, description: 'when the target made it durable' },
      location: nullable('string'),
    }),
  },
  {
    $id: 'Cycle',
    ...object({
      epochs: { type: 'array', items: integer },
      mode: { type: 'string', enum: ['FULL', 'INCREMENTAL', 'CONTINUOUS'] },
      startedAtMs: timeMs,
      durationMs: integer,
      extentRecords: integer,
      dataBytes: integer,
      zeroBytes: integer,
      rebaselineReason: nullable('string'),
      changeMap: object(
        { bucketBytes: integer, changedBytes: { type: 'array', items: integer } },
        'bytes this cycle published per bucket of bucketBytes of the disk (256 buckets)',
      ),
    }),
  },
  {
    $id: 'FeedDisk',
    ...object({
      diskId: string,
      partition: nullable('integer'),
      phase: {
        type: 'string',
        enum: ['starting', 'idle', 'syncing', 'failed', 'paused', 'stopped'],
      },
      sizeBytes: integer,
      currentEpoch: nullable('integer'),
      lastCommittedEpoch: nullable('integer'),
      lastCommittedAtMs: nullable('integer'),
      progress: {
        anyOf: [
          object(
            {
              epoch: integer,
              mode: string,
              positionBytes: integer,
              diskSizeBytes: integer,
              extentRecords: integer,
              dataBytes: integer,
              zeroBytes: integer,
            },
            'the cycle in progress',
          ),
          { type: 'null' },
        ],
      },
      lastCycle: { anyOf: [{ $ref: 'Cycle#' }, { type: 'null' }] },
      recentCycles: { type: 'array', items: { $ref: 'Cycle#' }, description: 'oldest first' },
      changeRateBytesPerSecond: {
        ...nullable('number'),
        description:
          'bytes changed per second of source time over the recent incremental cycles; null before two cycles',
      },
      published: object({
        extentRecords: integer,
        dataBytes: integer,
        zeroBytes: integer,
        heartbeats: integer,
      }),
      lastError: { $ref: 'LastError#' },
      rebaselineRequested: nullable('string'),
    }),
  },
  {
    $id: 'Feed',
    ...object({
      feed: string,
      topic: string,
      sourceKind: string,
      paused: { type: 'boolean' },
      disks: { type: 'array', items: { $ref: 'FeedDisk#' } },
    }),
  },
  {
    $id: 'Lag',
    ...object(
      {
        sampledAtMs: nullable('integer'),
        records: nullable('integer'),
        bytes: nullable('integer'),
        bytesMethod: { type: 'string', enum: ['exact', 'sampled', 'unknown'] },
        seconds: nullable('number'),
      },
      'records and bytes the target group has not committed, and the worst disk lag in seconds',
    ),
  },
  {
    $id: 'TargetPartition',
    ...object({
      topic: string,
      partition: integer,
      startOffset: integer,
      endOffset: integer,
      committedOffset: nullable('integer'),
      assigned: { type: 'boolean', description: 'replayed by this process' },
      lagRecords: integer,
      lagBytes: nullable('integer'),
      lagBytesMethod: { type: 'string', enum: ['exact', 'sampled', 'unknown'] },
    }),
  },
  {
    $id: 'TargetDisk',
    ...object({
      feed: string,
      diskId: string,
      topic: string,
      partition: integer,
      state: { type: 'string', enum: ['waiting', 'in-epoch', 'between-epochs', 'stopped'] },
      currentEpoch: nullable('integer'),
      lagSeconds: nullable('number'),
      appliedRecords: integer,
      appliedBytes: integer,
      applyBytesPerSecond: nullable('number'),
      newestAppliedSourceTimeMs: nullable('integer'),
      lastRestorePoint: { anyOf: [{ $ref: 'RestorePoint#' }, { type: 'null' }] },
      lastError: { $ref: 'LastError#' },
    }),
  },
  {
    $id: 'Target',
    ...object({
      target: string,
      targetKind: string,
      groupId: string,
      paused: { type: 'boolean' },
      feeds: { type: 'array', items: string },
      lag: { $ref: 'Lag#' },
      partitions: { type: 'array', items: { $ref: 'TargetPartition#' } },
      disks: { type: 'array', items: { $ref: 'TargetDisk#' } },
      lastError: { $ref: 'LastError#' },
    }),
  },
  {
    $id: 'LagSample',
    ...object({
      atMs: timeMs,
      targets: {
        type: 'array',
        items: object({
          target: string,
          records: integer,
          bytes: nullable('integer'),
          seconds: nullable('number'),
        }),
      },
    }),
  },
] as const;

export const ERROR_RESPONSES = {
  400: { $ref: 'Error#' },
  401: { $ref: 'Error#' },
  403: { $ref: 'Error#' },
  404: { $ref: 'Error#' },
  409: { $ref: 'Error#' },
} as const;

/** Request parameters: every one required, nothing else. */
const params = <P extends Record<string, unknown>>(properties: P) =>
  ({ ...object(properties), additionalProperties: false }) as const;

export const feedParams = params({ feed: name });
export const feedDiskParams = params({ feed: name, disk: diskId });
export const targetParams = params({ target: name });

export const syncBody = {
  // null: a POST without a body syncs every disk of the feed.
  type: ['object', 'null'],
  additionalProperties: false,
  properties: {
    disks: {
      type: 'array',
      items: diskId,
      minItems: 1,
      uniqueItems: true,
      description: 'the disks to sync; all of the feed when omitted',
    },
  },
} as const;

export const rebaselineBody = {
  type: 'object',
  additionalProperties: false,
  required: ['reason'],
  properties: {
    reason: {
      type: 'string',
      minLength: 1,
      maxLength: 200,
      description: 'why; recorded in the SyncBegin',
    },
    syncNow: { type: 'boolean', default: true, description: 'start the FULL cycle at once' },
  },
} as const;

export const restorePointsQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { target: name, feed: name, disk: diskId },
} as const;

export const lagSampleList = { type: 'array', items: { $ref: 'LagSample#' } } as const;

export const overviewResponse = object({
  generatedAtMs: timeMs,
  protected: {
    type: 'boolean',
    description: 'every target disk holds a restore point and nothing reports an error',
  },
  problems: { type: 'array', items: string },
  feeds: { type: 'array', items: { $ref: 'Feed#' } },
  targets: { type: 'array', items: { $ref: 'Target#' } },
  lagHistory: lagSampleList,
  errors: { type: 'array', items: { $ref: 'ErrorEvent#' } },
});

export const acceptedResponse = (properties: Record<string, unknown>) =>
  object({ accepted: { type: 'boolean', const: true }, ...properties });
