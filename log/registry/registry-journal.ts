/**
 * The registry's durable state: an append-only journal of JSON entries, each fsynced before
 * the change it records is answered. It is replayed on start.
 *
 *   offset 0         8
 *          +---------+----------------+----------------+-----------------------+
 *          | EXSRJNL1| length u32 BE  | crc32c u32 BE  | payload (UTF-8 JSON)  |  …
 *          +---------+----------------+----------------+-----------------------+
 *            magic    one entry: crc32c over the payload only; length > 0
 *
 * A crash can only tear the last entry (a prefix of it reaches the disk, or the file was
 * extended with zeros): such a tail is cut off on open. A bad entry with intact entries
 * after it is damage the registry will not guess around.
 */
import { mkdir, open, readFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { crc32c } from '@node-rs/crc32';
import { describeError } from '../../errors/extentlog-error.js';
import { RegistryError } from './errors.js';

const MAGIC = Buffer.from('EXSRJNL1', 'latin1');
const ENTRY_HEADER_BYTES = 8;

export interface JournalOpenReport {
  /** Bytes cut off a torn last entry (0 when the file was clean). */
  readonly droppedTailBytes: number;
}

export interface RegistryJournal<T> {
  readonly path: string;
  /** Appends one entry and fsyncs it; on failure the file is cut back to what it was. */
  append(entry: T): Promise<void>;
  close(): Promise<void>;
}

export interface OpenedJournal<T> {
  readonly journal: RegistryJournal<T>;
  readonly entries: readonly T[];
  readonly report: JournalOpenReport;
}

interface ParsedJournal {
  readonly payloads: { readonly position: number; readonly payload: Buffer }[];
  /** Where the intact part of the file ends. */
  readonly validBytes: number;
}

function corrupt(filePath: string, position: number, what: string): RegistryError {
  return new RegistryError(
    'EXTENTLOG_ERR_REGISTRY_CORRUPT_JOURNAL',
    `schema registry journal ${filePath} at byte ${position}: ${what}; restore the file from a backup`,
    { details: { path: filePath, position } },
  );
}

function parseJournal(filePath: string, content: Buffer): ParsedJournal {
  if (!content.subarray(0, MAGIC.length).equals(MAGIC))
    throw new RegistryError(
      'EXTENTLOG_ERR_REGISTRY_CORRUPT_JOURNAL',
      `schema registry journal ${filePath}: expected the magic ${MAGIC.toString('latin1')} at byte 0, received ${JSON.stringify(content.subarray(0, MAGIC.length).toString('latin1'))}; this is not a registry journal`,
      { details: { path: filePath, position: 0 } },
    );
  const payloads: ParsedJournal['payloads'] = [];
  let position = MAGIC.length;
  while (position < content.length) {
    const rest = content.subarray(position);
    if (rest.length < ENTRY_HEADER_BYTES || rest.every((byte) => byte === 0)) break;
    const lengthBytes = rest.readUInt32BE(0);
    const end = ENTRY_HEADER_BYTES + lengthBytes;
    if (lengthBytes === 0)
      throw corrupt(filePath, position, 'expected a non-empty entry, received length 0');
    if (end > rest.length) break; // a prefix of the last entry
    const payload = rest.subarray(ENTRY_HEADER_BYTES, end);
    if (crc32c(payload) !== rest.readUInt32BE(4)) {
      if (end === rest.length) break; // the last entry, garbled by the crash
      throw corrupt(
        filePath,
        position,
        'the entry checksum does not match its payload and entries follow it, so it is not a torn last write',
      );
    }
    payloads.push({ position, payload });
    position += end;
  }
  return { payloads, validBytes: position };
}

async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export async function openRegistryJournal<T>(filePath: string): Promise<OpenedJournal<T>> {
  let content: Buffer;
  let handle: FileHandle;
  try {
    await mkdir(path.dirname(filePath), { recursive: true });
    content = await readFile(filePath).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return Buffer.alloc(0);
      throw error;
    });
    handle = await open(filePath, 'a');
  } catch (error) {
    throw new RegistryError(
      'EXTENTLOG_ERR_REGISTRY_DATA_DIR',
      `schema registry journal ${filePath}: cannot open it for appending: ${describeError(error)}`,
      { cause: error, details: { path: filePath } },
    );
  }
  try {
    let parsed: ParsedJournal;
    if (content.length < MAGIC.length && MAGIC.subarray(0, content.length).equals(content)) {
      // New, or torn while being created: start it over.
      await handle.truncate(0);
      await handle.write(MAGIC);
      await handle.sync();
      await syncDirectory(path.dirname(filePath));
      parsed = { payloads: [], validBytes: MAGIC.length };
      content = MAGIC;
    } else {
      parsed = parseJournal(filePath, content);
    }
    const droppedTailBytes = content.length - parsed.validBytes;
    if (droppedTailBytes > 0) {
      await handle.truncate(parsed.validBytes);
      await handle.sync();
    }
    const entries = parsed.payloads.map(({ position, payload }) => {
      try {
        return JSON.parse(payload.toString('utf8')) as T;
      } catch (error) {
        throw corrupt(filePath, position, `the entry is not JSON (${describeError(error)})`);
      }
    });
    return {
      journal: createJournal<T>(filePath, handle, parsed.validBytes),
      entries,
      report: { droppedTailBytes },
    };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

function createJournal<T>(filePath: string, handle: FileHandle, sizeBytes: number) {
  let size = sizeBytes;
  const journal: RegistryJournal<T> = {
    path: filePath,
    async append(entry) {
      const payload = Buffer.from(JSON.stringify(entry), 'utf8');
      const frame = Buffer.allocUnsafe(ENTRY_HEADER_BYTES + payload.length);
      frame.writeUInt32BE(payload.length, 0);
      frame.writeUInt32BE(crc32c(payload), 4);
      payload.copy(frame, ENTRY_HEADER_BYTES);
      try {
        await handle.write(frame);
        await handle.datasync();
      } catch (error) {
        // Never leave a partial entry in front of the next one.
        await handle.truncate(size).catch(() => undefined);
        throw error;
      }
      size += frame.length;
    },
    close: () => handle.close(),
  };
  return journal;
}
