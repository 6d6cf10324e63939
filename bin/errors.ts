/** Errors of the configuration: reported before anything starts. */
import { defineErrorArea, type ErrorCodeTable } from '../errors/extentlog-error.js';

export const CONFIG_ERRORS = {
  EXTENTLOG_ERR_CONFIG_READ: {
    summary: 'the configuration file, or a file it names (password, CA), cannot be read',
    retriable: false,
  },
  EXTENTLOG_ERR_CONFIG_SYNTAX: {
    summary: 'the configuration file is not valid YAML or JSON',
    retriable: false,
  },
  EXTENTLOG_ERR_CONFIG_INVALID: {
    summary:
      'a setting is missing, unknown or out of range; the message names each and suggests the closest known key',
    retriable: false,
  },
} as const satisfies ErrorCodeTable;

export class ConfigError extends defineErrorArea('ConfigError', CONFIG_ERRORS) {}
