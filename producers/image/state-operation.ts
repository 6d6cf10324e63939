/**
 * Runs an operation on the image source's state (stateDir, hash files) and reports its
 * failure as EXTENTLOG_ERR_SOURCE_STATE naming the disk and the file.
 */
import { describeError } from '../../errors/extentlog-error.js';
import { SourceError } from '../errors.js';

export async function stateOperation<T>(
  diskId: string,
  filePath: string,
  operation: () => Promise<T>,
): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    throw new SourceError(
      'EXTENTLOG_ERR_SOURCE_STATE',
      `disk ${diskId}: image source state ${filePath}: ${describeError(error)}`,
      { cause: error, details: { diskId, path: filePath } },
    );
  }
}
