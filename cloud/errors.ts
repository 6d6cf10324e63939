/**
 * Errors of cloud API access shared by the sources and targets of one cloud (request pacing,
 * retries, snapshots and their blocks). Foreign error codes (AWS `ThrottlingException`,
 * `InvalidSnapshot.NotFound`, …) are translated into these through a data table
 * (`aws/aws-error-kinds.ts`); the AWS code stays in `details.awsCode`.
 */
import { defineErrorArea, type ErrorCodeTable } from '../errors/extentlog-error.js';

export const CLOUD_ERRORS = {
  EXTENTLOG_ERR_CLOUD_CONFIG: {
    summary: 'a cloud option is invalid (request rate, retries, region); the message names it',
    retriable: false,
  },
  EXTENTLOG_ERR_CLOUD_THROTTLED: {
    summary:
      'the cloud API kept throttling or failing (HTTP 5xx, network) through every retry: lower the request rate or raise maxAttempts',
    retriable: true,
  },
  EXTENTLOG_ERR_CLOUD_AUTH: {
    summary:
      'the cloud API refused the credentials (expired session token, wrong key or signature, no permission)',
    retriable: false,
  },
  EXTENTLOG_ERR_CLOUD_NOT_FOUND: {
    summary: 'a snapshot, volume or instance named in a request does not exist (any more)',
    retriable: false,
  },
  EXTENTLOG_ERR_CLOUD_REQUEST: {
    summary:
      'the cloud API refused a request as invalid (validation, quota, conflict); the message has its code and reason',
    retriable: false,
  },
  EXTENTLOG_ERR_CLOUD_CHECKSUM: {
    summary: "a block's data did not match the checksum the API sent with it, also when read again",
    retriable: true,
  },
  EXTENTLOG_ERR_CLOUD_BLOCK_TOKEN: {
    summary: 'a block token was refused (expired) and listing the block again did not help',
    retriable: true,
  },
  EXTENTLOG_ERR_CLOUD_SNAPSHOT: {
    summary: 'a snapshot went into the error state or did not complete within its timeout',
    retriable: true,
  },
} as const satisfies ErrorCodeTable;

export class CloudError extends defineErrorArea('CloudError', CLOUD_ERRORS) {}
