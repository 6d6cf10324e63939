/**
 * Starts the runtime for a command. The embedded broker's data directory belongs to one
 * process at a time: when another extentlog process holds it, say so in the command's terms.
 */
import path from 'node:path';
import type { Logger } from 'pino';
import { ExtentlogError } from '../errors/extentlog-error.js';
import { CommandError } from './commands/errors.js';
import type { ExtentlogConfig } from './config/schema.js';
import { startRuntime, type Runtime, type RuntimeOptions } from './runtime.js';

export async function startCommandRuntime(
  command: string,
  config: ExtentlogConfig,
  logger: Logger,
  options: RuntimeOptions = {},
): Promise<Runtime> {
  try {
    return await startRuntime(config, logger, options);
  } catch (error) {
    const holder = error instanceof ExtentlogError ? error.details.holder : undefined;
    if (typeof holder === 'number')
      throw new CommandError(
        'EXTENTLOG_ERR_COMMAND_EMBEDDED_BUSY',
        `the embedded broker's data in ${path.resolve(config.dataDir, 'broker')} is in use by process ${holder} ` +
          `(another extentlog command with this configuration): stop it before running 'extentlog ${command}', ` +
          'or point kafka.brokers at a Kafka cluster so that several processes can share the log',
        { cause: error, details: { holder } },
      );
    throw error;
  }
}
