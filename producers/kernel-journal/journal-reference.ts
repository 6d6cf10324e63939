/**
 * The source reference of a kernel-journal epoch: which journal (the target instance's
 * random id), the ring position below which every record is in the epoch or before it,
 * and how many records the journal had dropped by then — any drop after the point shows
 * as a higher count (a drop has no position of its own: it happens at a full ring's head).
 *
 *   kjournal:<journal id, 16 hex digits>:<pos, decimal>:<records lost, decimal>
 */
const PATTERN = /^kjournal:([0-9a-f]{16}):(\d+):(\d+)$/;

export interface JournalPosition {
  readonly journalId: bigint;
  readonly pos: bigint;
  readonly lostTotal: bigint;
}

export function formatJournalReference(position: JournalPosition): string {
  const id = position.journalId.toString(16).padStart(16, '0');
  return `kjournal:${id}:${position.pos}:${position.lostTotal}`;
}

/** The position a reference names, or null when it is not a kernel-journal reference. */
export function parseJournalReference(reference: string): JournalPosition | null {
  const match = PATTERN.exec(reference);
  if (match === null) return null;
  return {
    journalId: BigInt(`0x${match[1]!}`),
    pos: BigInt(match[2]!),
    lostTotal: BigInt(match[3]!),
  };
}
