/** Errors of the status API, its token, its server and its client (`extentlog status`). */
import { defineErrorArea, type ErrorCodeTable } from '../errors/extentlog-error.js';

export const STATUS_ERRORS = {
  EXTENTLOG_ERR_STATUS_BAD_REQUEST: {
    summary:
      'a request to the status API has a missing, unknown or malformed field; the message names the field and what it expects',
    retriable: false,
  },
  EXTENTLOG_ERR_STATUS_UNAUTHORIZED: {
    summary:
      "an action was sent without the bearer token, or with another one: send 'Authorization: Bearer <the contents of status.tokenFile>'",
    retriable: false,
  },
  EXTENTLOG_ERR_STATUS_ACTIONS_DISABLED: {
    summary:
      'an action was sent to a status API that has no token configured: set status.tokenFile to enable actions',
    retriable: false,
  },
  EXTENTLOG_ERR_STATUS_NOT_FOUND: {
    summary:
      'the feed, disk, target or route named in a request does not exist in this process; the message lists the known ones',
    retriable: false,
  },
  EXTENTLOG_ERR_STATUS_ACTION_FAILED: {
    summary: 'the runtime refused or failed an action (the message says why)',
    retriable: true,
  },
  EXTENTLOG_ERR_STATUS_TOKEN_FILE: {
    summary:
      'status.tokenFile cannot be read or is empty: write one line of at least 16 characters to it, readable only by the service user',
    retriable: false,
  },
  EXTENTLOG_ERR_STATUS_LISTEN: {
    summary:
      'the status API cannot listen on status.host:status.port (address in use or not available): pick another port or host',
    retriable: false,
  },
  EXTENTLOG_ERR_STATUS_PAGE_MISSING: {
    summary:
      'the status page files are not next to the status module nor in the source status/page folder: reinstall the package',
    retriable: false,
  },
  EXTENTLOG_ERR_STATUS_UNREACHABLE: {
    summary:
      '`extentlog status` could not reach the status API at the URL it names: check the process runs, its status section, and --url',
    retriable: true,
  },
  EXTENTLOG_ERR_STATUS_RESPONSE: {
    summary:
      '`extentlog status` got an error status or an unexpected body from the status API; the message has the status and body',
    retriable: false,
  },
} as const satisfies ErrorCodeTable;

export class StatusError extends defineErrorArea('StatusError', STATUS_ERRORS) {}
