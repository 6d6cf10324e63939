/** Errors of the `extentlog` commands themselves: arguments, and what a command checks. */
import { defineErrorArea, type ErrorCodeTable } from '../../errors/extentlog-error.js';

export const COMMAND_ERRORS = {
  EXTENTLOG_ERR_COMMAND_USAGE: {
    summary:
      'the arguments are wrong: a missing or malformed option, or a target, feed or disk the configuration does not have',
    retriable: false,
  },
  EXTENTLOG_ERR_COMMAND_OUTPUT_EXISTS: {
    summary: 'the restore output exists (or is a block device) and --force was not given',
    retriable: false,
  },
  EXTENTLOG_ERR_COMMAND_NO_RESTORE_POINT: {
    summary: 'the restore-points topic holds no restore point for that target, disk (and epoch)',
    retriable: false,
  },
  EXTENTLOG_ERR_COMMAND_UNSUPPORTED: {
    summary: 'the target cannot hand back restore points (it has no reader)',
    retriable: false,
  },
  EXTENTLOG_ERR_COMMAND_REPLICATION: {
    summary:
      'a sync cycle failed or a target stopped on an error while the command waited for restore points',
    retriable: false,
  },
  EXTENTLOG_ERR_COMMAND_TIMEOUT: {
    summary: 'the targets did not reach the expected restore points in time',
    retriable: true,
  },
  EXTENTLOG_ERR_COMMAND_INTERRUPTED: {
    summary: 'the command was stopped by a signal before it finished',
    retriable: true,
  },
  EXTENTLOG_ERR_COMMAND_RESTORE_MISMATCH: {
    summary: "the restored image's sha256 differs from the target's: the output is not trustworthy",
    retriable: true,
  },
  EXTENTLOG_ERR_COMMAND_EMBEDDED_BUSY: {
    summary:
      "the configuration's embedded broker data directory is in use by another extentlog process",
    retriable: true,
  },
} as const satisfies ErrorCodeTable;

export class CommandError extends defineErrorArea('CommandError', COMMAND_ERRORS) {}
