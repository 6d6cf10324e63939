/**
 * Committed consumer-group offsets (OffsetCommit / OffsetFetch), kept in memory and in an
 * append-only journal that is rewritten compactly on open and when it outgrows its content.
 * A commit resolves only after its record is fdatasynced (group commit: commits arriving
 * during an fsync share the next one).
 *
 *   offsets/commits.log: records back to back
 *     u32 payload length | u32 CRC-32C of payload | payload (UTF-8 JSON), one of
 *       {"commit": groupId, "offsets": [[topic, partition, offset, metadata, timestampMs], …]}
 *       {"deleteGroup": groupId}
 *       {"deleteTopic": topic}
 *   A record that is short or fails its CRC ends the journal (a torn tail after a crash).
 */
import { crc32c } from '@node-rs/crc32';
import { mkdir, open, readFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { ignoreMissing, writeFileAtomic } from './durable-file.js';
import { FlushScheduler } from './flush-scheduler.js';
import { writeFully } from './positional-io.js';
import type { CommittedOffset, StoreLogger } from './store.js';

const RECORD_HEADER_BYTES = 8;
const JOURNAL_FILE = 'commits.log';
/** The journal is rewritten when it exceeds both this and 4× its compacted size. */
const COMPACTION_MIN_BYTES = 16 * 1024 * 1024;

type OffsetRow = readonly [string, number, number, string | null, number];
type JournalRecord =
  | { readonly commit: string; readonly offsets: readonly OffsetRow[] }
  | { readonly deleteGroup: string }
  | { readonly deleteTopic: string };

/** groupId → "topic\0partition" → offset */
type OffsetTable = Map<string, Map<string, CommittedOffset>>;

export class OffsetStore {
  private chain: Promise<unknown> = Promise.resolve();
  private readonly flusher: FlushScheduler;

  private constructor(
    private readonly journalPath: string,
    private handle: FileHandle,
    private sizeBytes: number,
    private readonly groups: OffsetTable,
    private readonly logger: StoreLogger,
  ) {
    this.flusher = new FlushScheduler(
      () => this.handle.datasync(),
      (error) => this.logger.error({ error: String(error) }, 'offset journal flush failed'),
    );
  }

  static async open(directory: string, logger: StoreLogger): Promise<OffsetStore> {
    await mkdir(directory, { recursive: true });
    const journalPath = path.join(directory, JOURNAL_FILE);
    let journal = Buffer.alloc(0);
    try {
      journal = await readFile(journalPath);
    } catch (error) {
      ignoreMissing(error);
    }
    const groups: OffsetTable = new Map();
    const { validBytes } = replayJournal(journal, groups);
    if (validBytes < journal.length)
      logger.warn(
        { journalPath, validBytes, fileBytes: journal.length },
        'dropping a torn tail of the offset journal',
      );
    const compacted = compactJournal(groups);
    await writeFileAtomic(journalPath, compacted);
    const handle = await open(journalPath, 'r+');
    return new OffsetStore(journalPath, handle, compacted.length, groups, logger);
  }

  async commit(
    groupId: string,
    offsets: readonly Omit<CommittedOffset, 'commitTimestampMs'>[],
  ): Promise<void> {
    const commitTimestampMs = Date.now();
    const rows: OffsetRow[] = offsets.map((entry) => [
      entry.topic,
      entry.partition,
      entry.offset,
      entry.metadata,
      commitTimestampMs,
    ]);
    await this.persist({ commit: groupId, offsets: rows });
  }

  fetch(groupId: string, topics?: readonly string[]): readonly CommittedOffset[] {
    const offsets = [...(this.groups.get(groupId)?.values() ?? [])];
    return topics === undefined ? offsets : offsets.filter((entry) => topics.includes(entry.topic));
  }

  groupIds(): readonly string[] {
    return [...this.groups.keys()];
  }

  async deleteGroup(groupId: string): Promise<void> {
    if (this.groups.has(groupId)) await this.persist({ deleteGroup: groupId });
  }

  async deleteTopic(topic: string): Promise<void> {
    const used = [...this.groups.values()].some((offsets) =>
      [...offsets.values()].some((entry) => entry.topic === topic),
    );
    if (used) await this.persist({ deleteTopic: topic });
  }

  journalBytes(): number {
    return this.sizeBytes;
  }

  async close(): Promise<void> {
    await this.chain;
    await this.flusher.flushNow();
    await this.handle.close();
  }

  /**
   * Appends the record and applies it in memory in journal order (so a compaction in the
   * chain always includes it), then waits until the journal is durable.
   */
  private async persist(record: JournalRecord): Promise<void> {
    const written = this.chain.then(async () => {
      await this.write(encodeRecord(record));
      applyRecord(this.groups, record);
    });
    this.chain = written.catch(() => undefined);
    await written;
    await this.flusher.flushNow();
    if (this.sizeBytes > COMPACTION_MIN_BYTES) {
      const compacting = this.chain.then(() => this.compactIfLarge());
      this.chain = compacting.catch((error: unknown) =>
        this.logger.warn({ error: String(error) }, 'offset journal compaction failed'),
      );
    }
  }

  private async write(bytes: Buffer): Promise<void> {
    await writeFully(this.handle, bytes, this.sizeBytes);
    this.sizeBytes += bytes.length;
  }

  /** Rewrites the journal from the in-memory table (runs inside the write chain). */
  private async compactIfLarge(): Promise<void> {
    const compacted = compactJournal(this.groups);
    if (this.sizeBytes <= Math.max(COMPACTION_MIN_BYTES, 4 * compacted.length)) return;
    await this.flusher.flushNow();
    await writeFileAtomic(this.journalPath, compacted);
    const previous = this.handle;
    this.handle = await open(this.journalPath, 'r+');
    this.sizeBytes = compacted.length;
    await previous.close();
  }
}

function encodeRecord(record: JournalRecord): Buffer {
  const payload = Buffer.from(JSON.stringify(record), 'utf8');
  const bytes = Buffer.allocUnsafe(RECORD_HEADER_BYTES + payload.length);
  bytes.writeUInt32BE(payload.length, 0);
  bytes.writeUInt32BE(crc32c(payload), 4);
  payload.copy(bytes, RECORD_HEADER_BYTES);
  return bytes;
}

/** Applies every sound record of `journal`; returns where the sound prefix ends. */
function replayJournal(journal: Buffer, groups: OffsetTable): { validBytes: number } {
  let position = 0;
  while (position + RECORD_HEADER_BYTES <= journal.length) {
    const length = journal.readUInt32BE(position);
    const end = position + RECORD_HEADER_BYTES + length;
    if (end > journal.length) break;
    const payload = journal.subarray(position + RECORD_HEADER_BYTES, end);
    if (crc32c(payload) !== journal.readUInt32BE(position + 4)) break;
    let record: JournalRecord;
    try {
      record = JSON.parse(payload.toString('utf8')) as JournalRecord;
    } catch {
      break;
    }
    applyRecord(groups, record);
    position = end;
  }
  return { validBytes: position };
}

function applyRecord(groups: OffsetTable, record: JournalRecord): void {
  if ('commit' in record) {
    let offsets = groups.get(record.commit);
    if (offsets === undefined) {
      offsets = new Map();
      groups.set(record.commit, offsets);
    }
    for (const [topic, partition, offset, metadata, commitTimestampMs] of record.offsets)
      offsets.set(`${topic}\0${partition}`, {
        topic,
        partition,
        offset,
        metadata,
        commitTimestampMs,
      });
  } else if ('deleteGroup' in record) groups.delete(record.deleteGroup);
  else
    for (const [groupId, offsets] of groups) {
      for (const [key, entry] of offsets)
        if (entry.topic === record.deleteTopic) offsets.delete(key);
      if (offsets.size === 0) groups.delete(groupId);
    }
}

function compactJournal(groups: OffsetTable): Buffer {
  return Buffer.concat(
    [...groups].map(([groupId, offsets]) =>
      encodeRecord({
        commit: groupId,
        offsets: [...offsets.values()].map((entry): OffsetRow => [
          entry.topic,
          entry.partition,
          entry.offset,
          entry.metadata,
          entry.commitTimestampMs,
        ]),
      }),
    ),
  );
}
