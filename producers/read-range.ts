/** The check every `BlockReader.read` makes first: the range lies within the disk. */
import { SourceError } from './errors.js';

export function assertReadInDisk(
  diskId: string,
  diskSizeBytes: number,
  offsetBytes: number,
  lengthBytes: number,
): void {
  if (
    !Number.isSafeInteger(offsetBytes) ||
    !Number.isSafeInteger(lengthBytes) ||
    offsetBytes < 0 ||
    lengthBytes < 0 ||
    offsetBytes + lengthBytes > diskSizeBytes
  )
    throw new SourceError(
      'EXTENTLOG_ERR_SOURCE_OUT_OF_RANGE',
      `disk ${diskId}: read of ${lengthBytes} bytes at offset ${offsetBytes} is outside the disk's ${diskSizeBytes} bytes`,
      { details: { diskId, offsetBytes, lengthBytes } },
    );
}
