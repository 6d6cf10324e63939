/**
 * Errors of change sources and the feed runtime. One table for every source: a code names
 * what went wrong, not which adapter noticed it, so new sources reuse codes where the
 * meaning is the same and add a line here (and in docs/errors.md) where it is not.
 */
import { defineErrorArea, type ErrorCodeTable } from '../errors/extentlog-error.js';

export const SOURCE_ERRORS = {
  EXTENTLOG_ERR_SOURCE_CONFIG: {
    summary: 'a source option is invalid; the message names the option and the accepted values',
    retriable: false,
  },
  EXTENTLOG_ERR_SOURCE_UNKNOWN_DISK: {
    summary: 'a cycle was opened for a disk the source was not configured with',
    retriable: false,
  },
  EXTENTLOG_ERR_SOURCE_OPEN: {
    summary:
      'the disk could not be opened or sized (missing path, permissions, not a file or block device)',
    retriable: true,
  },
  EXTENTLOG_ERR_SOURCE_READ: {
    summary: 'reading the disk failed (I/O error); the cycle is aborted and retried',
    retriable: true,
  },
  EXTENTLOG_ERR_SOURCE_OUT_OF_RANGE: {
    summary: 'a read asked for bytes outside the disk (a bug in the caller)',
    retriable: false,
  },
  EXTENTLOG_ERR_SOURCE_SIZE_CHANGED: {
    summary:
      'the disk changed size during a cycle: replicate from a snapshot, or let the next cycle re-baseline',
    retriable: true,
  },
  EXTENTLOG_ERR_SOURCE_TRUNCATED: {
    summary:
      'the disk ended before its size while being read (truncated or shrunk mid-cycle); replicate from a snapshot',
    retriable: true,
  },
  EXTENTLOG_ERR_SOURCE_STATE: {
    summary:
      "the source's state (hash files in stateDir) could not be read or written: check the directory's space and permissions",
    retriable: true,
  },
  EXTENTLOG_ERR_SOURCE_CYCLE: {
    summary: 'a cycle was used out of order (commit before its changes were read, or after abort)',
    retriable: false,
  },
  EXTENTLOG_ERR_SOURCE_LOG_STATE: {
    summary:
      'the feed could not read its position back from its topic (a record there does not decode); the message names topic, partition and offset',
    retriable: true,
  },
  EXTENTLOG_ERR_SOURCE_CLOUD_API: {
    summary:
      "a cloud control-plane request failed; the message names the operation, HTTP status, the service's error code and request id",
    retriable: true,
  },
  EXTENTLOG_ERR_SOURCE_CLOUD_AUTH: {
    summary:
      'the cloud API refused the credentials or the signature: check the user, tenancy, key fingerprint and private key',
    retriable: false,
  },
  EXTENTLOG_ERR_SOURCE_CLOUD_TIMEOUT: {
    summary:
      'a cloud resource (backup, volume, attachment, work request) did not reach the expected state in time',
    retriable: true,
  },
  EXTENTLOG_ERR_SOURCE_CHANGE_SCAN: {
    summary:
      'scanning a volume for changed blocks (GET LBA STATUS) failed or returned inconsistent descriptors',
    retriable: true,
  },
  EXTENTLOG_ERR_SOURCE_TOOL: {
    summary:
      'an external tool of the source (qemu-img, qemu-nbd, nbdkit) failed or could not be started; the message has its command line and what it printed',
    retriable: true,
  },
  EXTENTLOG_ERR_SOURCE_JOURNAL_OVERFLOW: {
    summary:
      'the kernel journal dropped records (its ring was full); the next cycle re-baselines the disk from a COW snapshot. Give the target a larger ring_records or consistency points closer together',
    retriable: true,
  },
  EXTENTLOG_ERR_SOURCE_JOURNAL_GONE: {
    summary:
      'the extentlog target of the disk was removed while its journal was read; the next cycle reopens it (and re-baselines, as the journal is new)',
    retriable: true,
  },
  EXTENTLOG_ERR_SOURCE_SNAPSHOT: {
    summary:
      'a COW snapshot could not be taken or became invalid (COW store full, missing or failing); the epoch is retried. Give the store room for every chunk written while an epoch is read',
    retriable: true,
  },
  EXTENTLOG_ERR_SOURCE_CONNECT: {
    summary:
      'the platform could not be reached (Ceph monitors, an OpenStack endpoint): check the addresses and the network; the cycle is retried',
    retriable: true,
  },
  EXTENTLOG_ERR_SOURCE_AUTH: {
    summary:
      'the platform refused the credentials (a cephx key, a Keystone password or scope): fix the key or password file',
    retriable: false,
  },
  EXTENTLOG_ERR_SOURCE_API: {
    summary:
      "a platform API answered with an error (OpenStack Nova or Cinder); the message has the call, the status and the service's message",
    retriable: true,
  },
  EXTENTLOG_ERR_SOURCE_UNEXPECTED: {
    summary:
      'a sync cycle failed with an error that carries no extentlog code; the message has the details',
    retriable: true,
  },
} as const satisfies ErrorCodeTable;

export class SourceError extends defineErrorArea('SourceError', SOURCE_ERRORS) {}
