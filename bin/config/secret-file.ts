/**
 * Secrets named by the configuration (`secretFile`, `passwordFile`): read when the process
 * starts, a trailing newline dropped, never logged.
 */
import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors.js';

export function readSecretFile(file: string, setting: string): string {
  try {
    const secret = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    if (secret === '') throw new Error('the file is empty');
    return secret;
  } catch (error) {
    throw new ConfigError(
      'EXTENTLOG_ERR_CONFIG_READ',
      `cannot read the secret of ${setting} from ${file}: ${(error as Error).message}`,
      { cause: error },
    );
  }
}
