/**
 * Reads an extentlog COW store (the format of kmod/uapi/extentlog.h, little-endian):
 * a 4 KiB header, an index of one u64 per slot (origin chunk + 1, 0 for a free slot), and
 * the slots' data from data_offset on.
 */
export const COW_MAGIC = 'EXLOGCOW';
export const COW_STATES = { 1: 'ACTIVE', 2: 'ENDED', 3: 'INVALID' } as const;

export interface CowStore {
  readonly magic: string;
  readonly version: number;
  readonly headerBytes: number;
  readonly chunkBytes: number;
  readonly state: string;
  readonly snapId: bigint;
  readonly journalId: bigint;
  readonly deviceSectors: number;
  readonly markerPos: bigint;
  readonly capacityChunks: number;
  readonly indexOffset: number;
  readonly dataOffset: number;
  readonly usedChunks: number;
  readonly error: number;
  /** Origin chunk of each used slot, in slot order. */
  readonly chunks: number[];
  /** The data of slot `slot`. */
  slot(slot: number): Buffer;
}

export function readCowStore(store: Buffer): CowStore {
  const u64 = (at: number) => Number(store.readBigUInt64LE(at));
  const stateValue = store.readUInt32LE(20) as keyof typeof COW_STATES;
  const header = {
    magic: store.toString('latin1', 0, 8),
    version: store.readUInt32LE(8),
    headerBytes: store.readUInt32LE(12),
    chunkBytes: store.readUInt32LE(16),
    state: COW_STATES[stateValue] ?? `unknown ${stateValue}`,
    snapId: store.readBigUInt64LE(24),
    journalId: store.readBigUInt64LE(32),
    deviceSectors: u64(40),
    markerPos: store.readBigUInt64LE(48),
    capacityChunks: u64(56),
    indexOffset: u64(64),
    dataOffset: u64(72),
    usedChunks: u64(80),
    error: store.readInt32LE(96),
  };
  const chunks: number[] = [];
  for (let slot = 0; slot < header.usedChunks; slot += 1) {
    chunks.push(u64(header.indexOffset + slot * 8) - 1);
  }
  return {
    ...header,
    chunks,
    slot: (slot) =>
      store.subarray(
        header.dataOffset + slot * header.chunkBytes,
        header.dataOffset + (slot + 1) * header.chunkBytes,
      ),
  };
}
