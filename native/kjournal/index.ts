/**
 * The `kjournal` addon: the character device of the extentlog kernel module,
 * /dev/extentlog/<name> (kmod/uapi/extentlog.h) — poll(2) + read(2) of journal records
 * and the ioctls EXL_IOC_INFO, EXL_IOC_ACK and EXL_IOC_SNAP_START/STOP/READ. Every call
 * runs on libuv's thread pool; this wrapper validates arguments, decodes records
 * (journal-record.ts) and translates the kernel's errno into NativeError.
 *
 * Positions, sequence numbers, snapshot ids and timestamps are bigint (u64 in the kernel);
 * offsets and lengths are bytes, multiples of 512.
 */
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { loadAddon } from '../addon-loader.js';
import { NativeError } from '../errors.js';
import { callNative, invalidArgument } from '../native-call.js';
import {
  decodeJournalRecords,
  JOURNAL_RECORD_BYTES,
  type JournalRecord,
} from './journal-record.js';

export const ADDON_NAME = 'kjournal';
const SECTOR_BYTES = 512;

export interface JournalInfo {
  readonly uapiVersion: number;
  readonly recordBytes: number;
  /** Random, new for every target instance (module reload, reboot, table re-created). */
  readonly journalId: bigint;
  readonly deviceSectors: bigint;
  readonly ringRecords: bigint;
  readonly headPos: bigint;
  readonly tailPos: bigint;
  readonly readPos: bigint;
  readonly nextSeq: bigint;
  readonly lostTotal: bigint;
  /** headPos at the last dropped record (meaningful when lostTotal > 0). */
  readonly lastLossHead: bigint;
  readonly inflightWrites: bigint;
  /** CLOCK_REALTIME − CLOCK_MONOTONIC of the kernel, now: adds to a record's times. */
  readonly realtimeOffsetNs: bigint;
  readonly snapId: bigint;
  readonly snapMarkerPos: bigint;
  readonly snapChunkBytes: bigint;
  readonly snapCapacityChunks: bigint;
  readonly snapCopiedChunks: bigint;
  readonly snapError: number;
  /** 1 + the pos of the last data record acknowledged (0: none was). */
  readonly ackedDataEnd: bigint;
}

export interface SnapshotStart {
  readonly snapId: bigint;
  /** Records with pos < markerPos completed before the snapshot; later ones after it. */
  readonly markerPos: bigint;
  readonly capacityChunks: bigint;
  readonly lostTotal: bigint;
  readonly lastLossHead: bigint;
}

interface KjournalAddon {
  read(fd: number, buffer: Buffer, timeoutMs: number): Promise<number>;
  info(fd: number): Promise<JournalInfo>;
  ack(fd: number, pos: bigint): Promise<void>;
  snapStart(fd: number, cowFd: number, chunkBytes: number, flags: number): Promise<SnapshotStart>;
  snapStop(fd: number, snapId: bigint): Promise<void>;
  snapRead(fd: number, snapId: bigint, offsetBytes: number, buffer: Buffer): Promise<void>;
  readonly layout: Readonly<Record<string, number>>;
}

const handle = loadAddon<KjournalAddon>(
  ADDON_NAME,
  import.meta.url,
  'install the Debian package build-essential, then run `npm run build:native`',
);

export function isAvailable(): boolean {
  return handle.isAvailable();
}

/** offsetof() of every exl_record field and the header's constants, as the addon was built. */
export function addonLayout(): Readonly<Record<string, number>> {
  return handle.get('the journal record layout').layout;
}

function invalid(name: string, expected: string, received: unknown) {
  return invalidArgument(ADDON_NAME, name, expected, received);
}

function checkSectors(name: string, value: number, minimum: number): void {
  if (!Number.isSafeInteger(value) || value < minimum || value % SECTOR_BYTES !== 0)
    throw invalid(name, `a multiple of ${SECTOR_BYTES} ≥ ${minimum}`, value);
}

/** An open /dev/extentlog/<name>. One read at a time; close() waits for calls in flight. */
export class KernelJournal {
  readonly #file: FileHandle;
  readonly #addon: KjournalAddon;
  readonly #inFlight = new Set<Promise<unknown>>();
  #reading = false;
  #closed = false;

  private constructor(
    readonly path: string,
    file: FileHandle,
    addon: KjournalAddon,
  ) {
    this.#file = file;
    this.#addon = addon;
  }

  /** Opens the journal and checks that the module speaks this build's interface version. */
  static async open(path: string): Promise<KernelJournal> {
    const addon = handle.get(`reading the kernel journal ${path}`);
    const file = await callNative(() => open(path, constants.O_RDWR | constants.O_NONBLOCK), {
      path,
    }).catch((error: unknown) => {
      if (error instanceof NativeError && error.code === 'EXTENTLOG_ERR_NATIVE_SYSCALL') {
        error.message +=
          ': is the extentlog module loaded and a target with this name created ' +
          '(dmsetup create <name> --table "0 <sectors> extentlog <device> <name>")?';
      }
      throw error;
    });
    const journal = new KernelJournal(path, file, addon);
    try {
      const info = await journal.info();
      if (
        info.uapiVersion !== addon.layout.uapiVersion ||
        info.recordBytes !== JOURNAL_RECORD_BYTES
      ) {
        throw new NativeError(
          'EXTENTLOG_ERR_NATIVE_BAD_RECORD',
          `${path}: the module speaks interface version ${info.uapiVersion} with ` +
            `${info.recordBytes}-byte records, this build version ${addon.layout.uapiVersion} ` +
            `with ${JOURNAL_RECORD_BYTES}-byte records: load the module built from this checkout`,
          { details: { path } },
        );
      }
    } catch (error) {
      await file.close();
      throw error;
    }
    return journal;
  }

  #track<T>(what: string, context: Record<string, unknown>, run: () => Promise<T>): Promise<T> {
    if (this.#closed)
      return Promise.reject(
        new NativeError(
          'EXTENTLOG_ERR_NATIVE_INVALID_ARGUMENT',
          `${this.path}: ${what} after close`,
        ),
      );
    const promise = callNative(run, { path: this.path, ...context });
    this.#inFlight.add(promise);
    void promise.catch(() => undefined).finally(() => this.#inFlight.delete(promise));
    return promise;
  }

  /**
   * Up to `maxRecords` records after the last ones read, waiting up to `timeoutMs` for the
   * first: [] after the timeout, null once the target is gone. The first file that reads
   * becomes the journal's only reader (EBUSY for any other) and is handed every record not
   * acknowledged yet.
   */
  async read(maxRecords: number, timeoutMs: number): Promise<JournalRecord[] | null> {
    if (!Number.isSafeInteger(maxRecords) || maxRecords < 1)
      throw invalid('maxRecords', 'a positive integer', maxRecords);
    if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 0 || timeoutMs > 0x7fffffff)
      throw invalid('timeoutMs', 'a non-negative integer', timeoutMs);
    if (this.#reading)
      throw invalid('read', 'not called while a read is in flight', 'a second read');
    this.#reading = true;
    try {
      const buffer = Buffer.allocUnsafe(maxRecords * JOURNAL_RECORD_BYTES);
      const bytes = await this.#track('read', { maxRecords }, () =>
        this.#addon.read(this.#file.fd, buffer, timeoutMs),
      );
      return bytes < 0 ? null : decodeJournalRecords(buffer.subarray(0, bytes));
    } finally {
      this.#reading = false;
    }
  }

  info(): Promise<JournalInfo> {
    return this.#track('info', {}, () => this.#addon.info(this.#file.fd));
  }

  /** Releases every record with pos < `pos` (records this file read). */
  ack(pos: bigint): Promise<void> {
    if (typeof pos !== 'bigint' || pos < 0n) throw invalid('pos', 'a non-negative bigint', pos);
    return this.#track('ack', { pos }, () => this.#addon.ack(this.#file.fd, pos));
  }

  /**
   * Starts a COW snapshot whose store is `storePath` (a file or block device not on the
   * protected device). The snapshot ends with stopSnapshot() or when this file closes.
   * `releaseBelow`: release every record below the marker at once (EXL_SNAP_RELEASE_BELOW),
   * for a reader that re-reads the whole device from the snapshot.
   */
  async startSnapshot(
    storePath: string,
    chunkBytes: number,
    options: { readonly releaseBelow?: boolean } = {},
  ): Promise<SnapshotStart> {
    if (
      !Number.isSafeInteger(chunkBytes) ||
      chunkBytes < 4096 ||
      chunkBytes > 1 << 20 ||
      (chunkBytes & (chunkBytes - 1)) !== 0
    )
      throw invalid('chunkBytes', 'a power of two from 4096 to 1048576', chunkBytes);
    const flags = options.releaseBelow ? (this.#addon.layout.snapReleaseBelow ?? 1) : 0;
    const store = await callNative(() => open(storePath, constants.O_RDWR), { path: storePath });
    try {
      return await this.#track('startSnapshot', { store: storePath, chunkBytes }, () =>
        this.#addon.snapStart(this.#file.fd, store.fd, chunkBytes, flags),
      );
    } finally {
      await store.close();
    }
  }

  stopSnapshot(snapId: bigint): Promise<void> {
    if (typeof snapId !== 'bigint' || snapId <= 0n)
      throw invalid('snapId', 'a positive bigint', snapId);
    return this.#track('stopSnapshot', { snapId }, () =>
      this.#addon.snapStop(this.#file.fd, snapId),
    );
  }

  /** Reads [offsetBytes, offsetBytes + lengthBytes) of the snapshot image. */
  async readSnapshot(snapId: bigint, offsetBytes: number, lengthBytes: number): Promise<Buffer> {
    if (typeof snapId !== 'bigint' || snapId <= 0n)
      throw invalid('snapId', 'a positive bigint', snapId);
    checkSectors('offsetBytes', offsetBytes, 0);
    checkSectors('lengthBytes', lengthBytes, SECTOR_BYTES);
    const buffer = Buffer.allocUnsafe(lengthBytes);
    const pieceBytes = this.#addon.layout.snapReadMaxBytes ?? 1 << 24;
    for (let done = 0; done < lengthBytes; done += pieceBytes) {
      const piece = buffer.subarray(done, Math.min(lengthBytes, done + pieceBytes));
      await this.#track('readSnapshot', { snapId, offsetBytes: offsetBytes + done }, () =>
        this.#addon.snapRead(this.#file.fd, snapId, offsetBytes + done, piece),
      );
    }
    return buffer;
  }

  /** Waits for the calls in flight and closes the file (which ends a snapshot it started). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled([...this.#inFlight]);
    await this.#file.close();
  }
}

export function openKernelJournal(path: string): Promise<KernelJournal> {
  return KernelJournal.open(path);
}
