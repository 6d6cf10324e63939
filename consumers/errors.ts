/**
 * Errors of targets and the replay engine. One table for every target: a code names what
 * went wrong, so new targets reuse codes where the meaning is the same.
 */
import { defineErrorArea, type ErrorCodeTable } from '../errors/extentlog-error.js';

export const TARGET_ERRORS = {
  EXTENTLOG_ERR_TARGET_CONFIG: {
    summary:
      'a target option is invalid (for file targets: the path template); the message names it',
    retriable: false,
  },
  EXTENTLOG_ERR_TARGET_NOT_FOUND: {
    summary: 'the target path does not exist and the target may not create it (createFiles: false)',
    retriable: false,
  },
  EXTENTLOG_ERR_TARGET_OPEN: {
    summary: 'the target could not be opened or sized (permissions, not a file or block device)',
    retriable: true,
  },
  EXTENTLOG_ERR_TARGET_TOO_SMALL: {
    summary: 'the target device is smaller than the disk it should hold: give it a larger device',
    retriable: false,
  },
  EXTENTLOG_ERR_TARGET_SHRINK: {
    summary:
      'the disk is smaller than its target but the epoch is not FULL: only a FULL epoch may shrink a target',
    retriable: false,
  },
  EXTENTLOG_ERR_TARGET_BAD_EXTENT: {
    summary: 'an extent lies outside the disk or its data does not match its length',
    retriable: false,
  },
  EXTENTLOG_ERR_TARGET_WRITE: {
    summary:
      'writing, zeroing or syncing the target failed (I/O error, no space); retried after a back-off',
    retriable: true,
  },
  EXTENTLOG_ERR_TARGET_READ: {
    summary: 'reading a restore point back from the target failed (I/O error, file ended early)',
    retriable: true,
  },
  EXTENTLOG_ERR_TARGET_POINT_UNAVAILABLE: {
    summary:
      'the target does not hold the restore point asked for (a file target keeps only the latest)',
    retriable: false,
  },
  EXTENTLOG_ERR_TARGET_CLOSED: {
    summary: 'a target disk was used after close()',
    retriable: false,
  },
  EXTENTLOG_ERR_TARGET_AUTH: {
    summary:
      'the object store refused the credentials (unknown key, bad signature, access denied, expired token)',
    retriable: false,
  },
  EXTENTLOG_ERR_TARGET_BUCKET: {
    summary: 'the bucket does not exist: create it, or fix the bucket name and endpoint',
    retriable: false,
  },
  EXTENTLOG_ERR_TARGET_CHUNK_CORRUPT: {
    summary:
      "a chunk object's content does not match its content address (altered, truncated or bit rot)",
    retriable: false,
  },
  EXTENTLOG_ERR_TARGET_CHUNK_MISSING: {
    summary: 'a chunk a manifest or an open epoch refers to is not in the bucket',
    retriable: false,
  },
  EXTENTLOG_ERR_TARGET_KEY: {
    summary:
      'the encryption key is missing, malformed, or not the key the chunks were written with',
    retriable: false,
  },
  EXTENTLOG_ERR_TARGET_MANIFEST: {
    summary:
      'a manifest is malformed, or a different manifest already seals the same epoch of the disk',
    retriable: false,
  },
  EXTENTLOG_ERR_TARGET_BASE_MISSING: {
    summary:
      "an incremental epoch's base restore point is not on the target: re-baseline the disk (FULL)",
    retriable: false,
  },
  EXTENTLOG_ERR_TARGET_GC: {
    summary: 'garbage collection could not take or keep its lock (another collection runs)',
    retriable: true,
  },
  EXTENTLOG_ERR_REPLAY_SEQUENCE_GAP: {
    summary:
      "a disk's records do not follow each other by exactly one seq: records are missing from the log",
    retriable: false,
  },
  EXTENTLOG_ERR_REPLAY_CRC: {
    summary: "an extent's CRC-32C does not match its position and data: the record was corrupted",
    retriable: false,
  },
  EXTENTLOG_ERR_REPLAY_DIGEST: {
    summary:
      'the extents replayed for an epoch do not match the digest, count or bytes of its SyncCommit',
    retriable: false,
  },
  EXTENTLOG_ERR_REPLAY_RECORD: {
    summary: 'a record contradicts its epoch (wrong epoch number, extent beyond the disk)',
    retriable: false,
  },
  EXTENTLOG_ERR_REPLAY_DECODE: {
    summary:
      'a record could not be decoded (corrupt frame, unknown schema id, registry unreachable)',
    retriable: true,
  },
} as const satisfies ErrorCodeTable;

export class TargetError extends defineErrorArea('TargetError', TARGET_ERRORS) {}
