/** The fixed workload of the crash test: a FULL epoch, then incremental ones. */
import type { ApplyExtent, EpochBegin } from '../../../consumers/target.js';
import { patternBytes } from '../../support/image-files.js';
import { DiskModel, epochBegin, randomExtents } from '../../support/s3-target-fixture.js';

const MiB = 1024 * 1024;
export const CRASH_DISK = {
  feed: 'vm1',
  diskId: 'crash-0',
  sizeBytes: 16 * MiB,
  blockSizeBytes: 512,
};
export const CRASH_EPOCHS = 5;

export function crashWorkload(): { begin: EpochBegin; extents: ApplyExtent[] }[] {
  const sizeBytes = CRASH_DISK.sizeBytes;
  return Array.from({ length: CRASH_EPOCHS }, (_, index) => {
    const epoch = index + 1;
    const extents: ApplyExtent[] =
      epoch === 1
        ? Array.from({ length: 48 }, (_, piece) => ({
            offsetBytes: piece * 256 * 1024,
            lengthBytes: 256 * 1024,
            op: 'WRITE' as const,
            data: patternBytes(256 * 1024, piece + 1),
          }))
        : randomExtents(sizeBytes, 64, epoch, 512 * 1024);
    return { begin: epochBegin(epoch, sizeBytes), extents };
  });
}

/** sha256 of the disk after each epoch. */
export function crashModelDigests(): string[] {
  const model = new DiskModel(CRASH_DISK.sizeBytes);
  return crashWorkload().map(({ extents }) => {
    for (const extent of extents) model.apply(extent);
    return model.sha256();
  });
}
