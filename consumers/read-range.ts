/** The check every `RestorePointReader.read` makes before it reads. */

/** Why [offsetBytes, offsetBytes + lengthBytes) cannot be read from a disk of `sizeBytes`, or null. */
export function readRangeProblem(
  offsetBytes: number,
  lengthBytes: number,
  sizeBytes: number,
): string | null {
  if (
    !Number.isSafeInteger(offsetBytes) ||
    !Number.isSafeInteger(lengthBytes) ||
    offsetBytes < 0 ||
    lengthBytes < 0 ||
    offsetBytes + lengthBytes > sizeBytes
  )
    return `the range [${offsetBytes}, ${offsetBytes + lengthBytes}) lies outside the disk's ${sizeBytes} bytes`;
  return null;
}
