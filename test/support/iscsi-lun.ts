/** Reading a LUN back over iSCSI in tests: the bytes a replay left there, as the initiator sees them. */
import { createHash } from 'node:crypto';
import { IscsiSession, type IscsiSessionOptions } from '../../native/iscsi/index.js';

const CHUNK_BYTES = 4 * 1024 * 1024;

/** sha256 of the first `lengthBytes` of the LUN, read with READ(16). */
export async function sha256OfLun(
  options: Omit<IscsiSessionOptions, 'initiatorIqn'> & { initiatorIqn?: string },
  lengthBytes: number,
): Promise<string> {
  const session = await IscsiSession.open({
    initiatorIqn: 'iqn.2024-01.io.extentlog:test-reader',
    ...options,
  });
  try {
    const { blockSizeBytes } = await session.readCapacity16();
    const hash = createHash('sha256');
    for (let at = 0; at < lengthBytes; at += CHUNK_BYTES) {
      const length = Math.min(CHUNK_BYTES, lengthBytes - at);
      const blocks = Math.ceil(length / blockSizeBytes);
      const chunk = await session.read16(
        at / blockSizeBytes,
        blockSizeBytes,
        Buffer.alloc(blocks * blockSizeBytes),
      );
      hash.update(chunk.subarray(0, length));
    }
    return hash.digest('hex');
  } finally {
    await session.close();
  }
}
