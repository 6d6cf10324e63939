/**
 * Errors of the embedded schema registry as a process (its data directory and journal, its
 * listening socket). What clients get wrong is answered over HTTP with Confluent's error
 * bodies instead, see registry-http-error.ts.
 */
import { defineErrorArea, type ErrorCodeTable } from '../../errors/extentlog-error.js';

export const REGISTRY_ERRORS = {
  EXTENTLOG_ERR_REGISTRY_DATA_DIR: {
    summary:
      'the registry cannot create or open its data directory or journal file: check the path and its permissions',
    retriable: false,
  },
  EXTENTLOG_ERR_REGISTRY_CORRUPT_JOURNAL: {
    summary:
      'the registry journal is damaged before its last entry (a torn last entry is dropped on start without this error): restore the file from a backup',
    retriable: false,
  },
  EXTENTLOG_ERR_REGISTRY_LISTEN: {
    summary:
      'the registry cannot listen on the configured host and port (in use, or not an address of this machine)',
    retriable: false,
  },
} as const satisfies ErrorCodeTable;

export class RegistryError extends defineErrorArea('RegistryError', REGISTRY_ERRORS) {}
