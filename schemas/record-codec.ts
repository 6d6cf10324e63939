/**
 * The codec of `<prefix>.<feed>.extents` values: ExtentlogRecord ⇄ Confluent-framed Avro
 * of `extent-record.avsc`. It hides avsc's representation (records by branch, every long a
 * bigint) behind the discriminated union of extentlog-record.ts and checks the contract in
 * both directions: safe integers, an unsigned crc32c, and data present exactly for WRITE
 * with lengthBytes bytes.
 */
import { createAvroCodec, type AvroCodec, type AvroCodecOptions } from './avro-codec.js';
import { loadSchemaFile } from './avro-types.js';
import type {
  RecordEnvelope,
  ExtentOp,
  ExtentRecord,
  ExtentlogRecord,
  HeartbeatRecord,
  SyncBeginRecord,
  SyncCommitRecord,
  SyncConsistency,
  SyncMode,
} from './extentlog-record.js';
import {
  checkInt64,
  checkOptionalInt64,
  checkOptionalSafeCount,
  checkSafeCount,
  checkSymbol,
  checkUint32,
  optionalSafeCount,
  RecordFieldProblem,
  safeCount,
  uint32,
  utf8BoundBytes,
} from './record-field-problem.js';

export const EXTENT_RECORD_SCHEMA = loadSchemaFile('extent-record.avsc');

const EXTENT_OPS: readonly ExtentOp[] = ['WRITE', 'ZERO', 'DISCARD'];
const SYNC_MODES: readonly SyncMode[] = ['FULL', 'INCREMENTAL', 'CONTINUOUS'];
const CONSISTENCIES: readonly SyncConsistency[] = ['CRASH_CONSISTENT', 'APP_CONSISTENT'];

/** Union branch of each record type, in the order of extent-record.avsc. */
const BRANCHES = { extent: 0, 'sync-begin': 1, 'sync-commit': 2, heartbeat: 3 } as const;

export type RecordCodec = AvroCodec<ExtentlogRecord>;

export function createRecordCodec(options: AvroCodecOptions): RecordCodec {
  return createAvroCodec<ExtentlogRecord>(
    {
      label: 'extent record',
      schema: EXTENT_RECORD_SCHEMA,
      toAvro,
      fromAvro,
      describe: (record) => `${record.type} of disk ${record.disk} seq ${record.seq}`,
    },
    options,
  );
}

/** Fields of a decoded Avro record: strings, bigints, Buffers, nulls and nested records. */
type AvroFields = Record<string, unknown>;

function checkData(op: ExtentOp, lengthBytes: number, data: Buffer | null): void {
  if (op === 'WRITE' ? data !== null && data.length === lengthBytes : data === null) return;
  const received = data === null ? 'none' : `${data.length} bytes`;
  throw new RecordFieldProblem(
    'EXTENTLOG_ERR_SCHEMA_INVALID_RECORD',
    ['data'],
    op === 'WRITE'
      ? `expected lengthBytes (${lengthBytes}) bytes of data for a WRITE, received ${received}`
      : `expected no data for a ${op}, received ${received}`,
  );
}

// The field objects are written out in full: object spread followed by more properties
// takes V8's slow path (about 1 µs per record).
function toAvro(record: ExtentlogRecord) {
  const { feed, disk } = record;
  const epoch = checkSafeCount(record.epoch, ['epoch']);
  const seq = checkSafeCount(record.seq, ['seq']);
  const strings = utf8BoundBytes(record.feed) + utf8BoundBytes(record.disk);
  switch (record.type) {
    case 'extent': {
      const op = checkSymbol(record.op, EXTENT_OPS, ['op']);
      checkData(op, checkSafeCount(record.lengthBytes, ['lengthBytes']), record.data);
      const { changeId, snapshotId, journalSeq } = record.provenance;
      return {
        branch: BRANCHES.extent,
        variableBytes:
          strings +
          utf8BoundBytes(changeId) +
          utf8BoundBytes(snapshotId) +
          (record.data?.length ?? 0),
        fields: {
          feed,
          disk,
          epoch,
          seq,
          offsetBytes: checkSafeCount(record.offsetBytes, ['offsetBytes']),
          lengthBytes: record.lengthBytes,
          op,
          crc32c: checkUint32(record.crc32c, ['crc32c']),
          issuedAtNs: checkInt64(record.issuedAtNs, ['issuedAtNs']),
          completedAtNs: checkInt64(record.completedAtNs, ['completedAtNs']),
          provenance: {
            changeId,
            snapshotId,
            journalSeq: checkOptionalInt64(journalSeq, ['provenance', 'journalSeq']),
          },
          data: record.data,
        },
      };
    }
    case 'sync-begin':
      return {
        branch: BRANCHES['sync-begin'],
        variableBytes:
          strings +
          utf8BoundBytes(record.sourceReference) +
          utf8BoundBytes(record.baseReference) +
          utf8BoundBytes(record.rebaselineReason),
        fields: {
          feed,
          disk,
          epoch,
          seq,
          mode: checkSymbol(record.mode, SYNC_MODES, ['mode']),
          diskSizeBytes: checkSafeCount(record.diskSizeBytes, ['diskSizeBytes']),
          blockSizeBytes: checkSafeCount(record.blockSizeBytes, ['blockSizeBytes']),
          sourceReference: record.sourceReference,
          baseEpoch: checkOptionalSafeCount(record.baseEpoch, ['baseEpoch']),
          baseReference: record.baseReference,
          rebaselineReason: record.rebaselineReason,
          startedAtMs: checkSafeCount(record.startedAtMs, ['startedAtMs']),
        },
      };
    case 'sync-commit':
      return {
        branch: BRANCHES['sync-commit'],
        variableBytes:
          strings + utf8BoundBytes(record.digest) + utf8BoundBytes(record.sourceReference),
        fields: {
          feed,
          disk,
          epoch,
          seq,
          extentCount: checkSafeCount(record.extentCount, ['extentCount']),
          dataBytes: checkSafeCount(record.dataBytes, ['dataBytes']),
          digest: record.digest,
          sourceReference: record.sourceReference,
          consistency: checkSymbol(record.consistency, CONSISTENCIES, ['consistency']),
          committedAtMs: checkSafeCount(record.committedAtMs, ['committedAtMs']),
        },
      };
    case 'heartbeat':
      return {
        branch: BRANCHES.heartbeat,
        variableBytes: strings,
        fields: {
          feed,
          disk,
          epoch,
          seq,
          lastCommittedEpoch: checkOptionalSafeCount(record.lastCommittedEpoch, [
            'lastCommittedEpoch',
          ]),
          sentAtMs: checkSafeCount(record.sentAtMs, ['sentAtMs']),
        },
      };
    default: {
      const unknown: { type?: unknown } = record;
      throw new RecordFieldProblem(
        'EXTENTLOG_ERR_SCHEMA_INVALID_RECORD',
        ['type'],
        `expected one of ${Object.keys(BRANCHES).join(', ')}, received ${JSON.stringify(unknown.type)}`,
      );
    }
  }
}

function envelopeFromAvro(fields: AvroFields): RecordEnvelope {
  return {
    feed: fields.feed as string,
    disk: fields.disk as string,
    epoch: safeCount(fields.epoch as bigint, ['epoch']),
    seq: safeCount(fields.seq as bigint, ['seq']),
  };
}

function extentFromAvro(fields: AvroFields): ExtentRecord {
  const envelope = envelopeFromAvro(fields);
  const provenance = fields.provenance as AvroFields;
  const op = fields.op as ExtentOp;
  const lengthBytes = safeCount(fields.lengthBytes as bigint, ['lengthBytes']);
  const data = fields.data as Buffer | null;
  checkData(op, lengthBytes, data);
  return {
    type: 'extent',
    feed: envelope.feed,
    disk: envelope.disk,
    epoch: envelope.epoch,
    seq: envelope.seq,
    offsetBytes: safeCount(fields.offsetBytes as bigint, ['offsetBytes']),
    lengthBytes,
    op,
    crc32c: uint32(fields.crc32c as bigint, ['crc32c']),
    issuedAtNs: fields.issuedAtNs as bigint,
    completedAtNs: fields.completedAtNs as bigint,
    provenance: {
      changeId: provenance.changeId as string | null,
      snapshotId: provenance.snapshotId as string | null,
      journalSeq: provenance.journalSeq as bigint | null,
    },
    data,
  };
}

function syncBeginFromAvro(fields: AvroFields): SyncBeginRecord {
  const envelope = envelopeFromAvro(fields);
  return {
    type: 'sync-begin',
    feed: envelope.feed,
    disk: envelope.disk,
    epoch: envelope.epoch,
    seq: envelope.seq,
    mode: fields.mode as SyncMode,
    diskSizeBytes: safeCount(fields.diskSizeBytes as bigint, ['diskSizeBytes']),
    blockSizeBytes: safeCount(fields.blockSizeBytes as bigint, ['blockSizeBytes']),
    sourceReference: fields.sourceReference as string,
    baseEpoch: optionalSafeCount(fields.baseEpoch as bigint | null, ['baseEpoch']),
    baseReference: fields.baseReference as string | null,
    rebaselineReason: fields.rebaselineReason as string | null,
    startedAtMs: safeCount(fields.startedAtMs as bigint, ['startedAtMs']),
  };
}

function syncCommitFromAvro(fields: AvroFields): SyncCommitRecord {
  const envelope = envelopeFromAvro(fields);
  return {
    type: 'sync-commit',
    feed: envelope.feed,
    disk: envelope.disk,
    epoch: envelope.epoch,
    seq: envelope.seq,
    extentCount: safeCount(fields.extentCount as bigint, ['extentCount']),
    dataBytes: safeCount(fields.dataBytes as bigint, ['dataBytes']),
    digest: fields.digest as string,
    sourceReference: fields.sourceReference as string,
    consistency: fields.consistency as SyncConsistency,
    committedAtMs: safeCount(fields.committedAtMs as bigint, ['committedAtMs']),
  };
}

function heartbeatFromAvro(fields: AvroFields): HeartbeatRecord {
  const envelope = envelopeFromAvro(fields);
  return {
    type: 'heartbeat',
    feed: envelope.feed,
    disk: envelope.disk,
    epoch: envelope.epoch,
    seq: envelope.seq,
    lastCommittedEpoch: optionalSafeCount(fields.lastCommittedEpoch as bigint | null, [
      'lastCommittedEpoch',
    ]),
    sentAtMs: safeCount(fields.sentAtMs as bigint, ['sentAtMs']),
  };
}

const FROM_AVRO: Readonly<Record<string, (fields: AvroFields) => ExtentlogRecord>> = {
  'io.extentlog.Extent': extentFromAvro,
  'io.extentlog.SyncBegin': syncBeginFromAvro,
  'io.extentlog.SyncCommit': syncCommitFromAvro,
  'io.extentlog.Heartbeat': heartbeatFromAvro,
};

function fromAvro(branchName: string, fields: AvroFields): ExtentlogRecord {
  const map = FROM_AVRO[branchName];
  if (map === undefined)
    throw new RecordFieldProblem(
      'EXTENTLOG_ERR_SCHEMA_UNREADABLE_SCHEMA',
      [],
      `expected one of ${Object.keys(FROM_AVRO).join(', ')}, received ${branchName}`,
    );
  return map(fields);
}
