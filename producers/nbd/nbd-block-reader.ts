/**
 * The `BlockReader` of sources that read their consistent view over NBD (a qemu-nbd export
 * of an image, a fleecing export of a running VM, nbdkit's VDDK plugin on a VMware
 * snapshot): range checks against the disk, then NbdClient.read, whose buffer is handed to
 * the feed as is.
 */
import { readOutOfRange } from '../cycle-lifecycle.js';
import type { BlockReader, DiskInfo } from '../source.js';
import type { NbdClient } from './nbd-client.js';

export function nbdBlockReader(client: NbdClient, disk: DiskInfo): BlockReader {
  return {
    read(offsetBytes, lengthBytes) {
      const outside = readOutOfRange(disk, offsetBytes, lengthBytes);
      if (outside !== null) return Promise.reject(outside);
      if (lengthBytes === 0) return Promise.resolve(Buffer.alloc(0));
      return client.read(offsetBytes, lengthBytes);
    },
  };
}
