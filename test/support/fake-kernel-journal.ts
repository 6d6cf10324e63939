/**
 * An in-memory stand-in for /dev/extentlog/<name> behind the kernel-journal source's
 * JournalDevice port: a disk buffer, a ring of records with the kernel's positions,
 * acknowledgement and loss rules (a full ring drops and counts, the last slot reports the
 * loss), and snapshots that copy the disk at their marker. Time is simulated: a read that
 * finds nothing advances the clock by its timeout, so tests run without waiting.
 */
import type {
  JournalDevice,
  JournalInfo,
  JournalRecord,
  SnapshotStart,
} from '../../producers/kernel-journal/journal-device.js';
import type { JournalRecordType } from '../../native/kjournal/journal-record.js';

export class FakeKernelJournal {
  disk: Buffer;
  journalId = 0x1234_5678_9abc_def0n;
  readonly capacity: number;
  records: JournalRecord[] = []; // pos tail .. head-1
  head = 0n;
  tail = 0n;
  read = 0n;
  lost = 0n;
  lostTotal = 0n;
  lastLossHead = 0n;
  ackedDataEnd = 0n;
  nextSeq = 1n;
  clockMs = 1_000_000;
  snapshot: { id: bigint; marker: bigint; image: Buffer } | null = null;
  lastSnapId = 0n;
  readerOpen = false;
  /** Called before every read: lets a test write while the source streams. */
  beforeRead: ((journal: FakeKernelJournal, reads: number) => void) | null = null;
  reads = 0;
  /** Called before every snapshot read: writes that land while an epoch is read. */
  beforeSnapshotRead: ((journal: FakeKernelJournal) => void) | null = null;
  /** The disk as every snapshot saw it, by marker. */
  readonly images = new Map<bigint, Buffer>();

  /** Wall-clock mode: reads wait (up to their timeout) for a record, time is Date.now(). */
  readonly realTime: boolean;
  #wake: (() => void) | null = null;

  constructor(sizeBytes: number, capacity = 1024, options: { realTime?: boolean } = {}) {
    this.disk = Buffer.alloc(sizeBytes);
    this.capacity = capacity;
    this.realTime = options.realTime ?? false;
  }

  now = (): number => (this.realTime ? Date.now() : this.clockMs);

  #push(type: JournalRecordType, offsetBytes: number, lengthBytes: number, fua = false): void {
    const nowNs = BigInt(this.now()) * 1_000_000n;
    this.#wake?.();
    const counted = type !== 'SNAP_START' && type !== 'SNAP_STOP';
    const seq = counted ? this.nextSeq++ : 0n;
    if (this.lost > 0n && this.head - this.tail + 2n <= BigInt(this.capacity)) this.#flushLost();
    if (this.lost === 0n && this.head - this.tail + 1n < BigInt(this.capacity)) {
      this.records.push({
        pos: this.head++,
        seq,
        type,
        offsetBytes,
        lengthBytes,
        fua,
        preflush: type === 'FLUSH',
        issuedNs: nowNs,
        completedNs: nowNs,
        status: 0,
        arg: 0n,
      });
      return;
    }
    if (!counted) return;
    this.lost += 1n;
    this.lostTotal += 1n;
    this.lastLossHead = this.head;
  }

  #flushLost(): void {
    if (this.lost === 0n || this.head - this.tail >= BigInt(this.capacity)) return;
    const nowNs = BigInt(this.now()) * 1_000_000n;
    this.records.push({
      pos: this.head++,
      seq: 0n,
      type: 'OVERFLOW',
      offsetBytes: 0,
      lengthBytes: 0,
      fua: false,
      preflush: false,
      issuedNs: nowNs,
      completedNs: nowNs,
      status: 0,
      arg: this.lost,
    });
    this.lost = 0n;
  }

  #release(pos: bigint): void {
    for (const record of this.records) {
      if (record.pos < pos && ['WRITE', 'DISCARD', 'WRITE_ZEROES'].includes(record.type))
        this.ackedDataEnd = record.pos + 1n;
    }
    if (pos > this.tail) this.tail = pos;
    this.records = this.records.filter((record) => record.pos >= this.tail);
    this.#flushLost();
  }

  write(offsetBytes: number, data: Buffer, fua = false): void {
    this.clockMs += 1;
    data.copy(this.disk, offsetBytes);
    this.#push('WRITE', offsetBytes, data.length, fua);
  }

  zero(offsetBytes: number, lengthBytes: number): void {
    this.clockMs += 1;
    this.disk.fill(0, offsetBytes, offsetBytes + lengthBytes);
    this.#push('WRITE_ZEROES', offsetBytes, lengthBytes);
  }

  /** A discard that leaves the bytes as they are (as qemu's discard=ignore does). */
  discard(offsetBytes: number, lengthBytes: number): void {
    this.clockMs += 1;
    this.#push('DISCARD', offsetBytes, lengthBytes);
  }

  flush(): void {
    this.clockMs += 1;
    this.#push('FLUSH', 0, 0);
  }

  /** A new target instance over the same disk: a new id and an empty ring. */
  recreate(): void {
    this.journalId += 1n;
    this.records = [];
    this.head = this.tail = this.read = 0n;
    this.lost = this.lostTotal = this.lastLossHead = this.ackedDataEnd = 0n;
  }

  info(): JournalInfo {
    return {
      uapiVersion: 1,
      recordBytes: 64,
      journalId: this.journalId,
      deviceSectors: BigInt(this.disk.length / 512),
      ringRecords: BigInt(this.capacity),
      headPos: this.head,
      tailPos: this.tail,
      readPos: this.readerOpen ? this.read : this.tail,
      nextSeq: this.nextSeq,
      lostTotal: this.lostTotal,
      lastLossHead: this.lastLossHead,
      inflightWrites: 0n,
      realtimeOffsetNs: 0n,
      snapId: this.snapshot?.id ?? 0n,
      snapMarkerPos: this.snapshot?.marker ?? 0n,
      snapChunkBytes: 0n,
      snapCapacityChunks: 0n,
      snapCopiedChunks: 0n,
      snapError: 0,
      ackedDataEnd: this.ackedDataEnd,
    };
  }

  /** A JournalDevice as /dev/extentlog/<name> opened by one process. */
  open = async (_path: string): Promise<JournalDevice> => {
    let reader = false;
    let closed = false;
    let snapshotOwned: bigint | null = null;
    const fail = (what: string) => Promise.reject(new Error(`fake journal: ${what}`));
    const device: JournalDevice = {
      read: async (maxRecords, timeoutMs) => {
        if (closed) return fail('read after close');
        if (!reader) {
          if (this.readerOpen) return fail('EBUSY');
          reader = this.readerOpen = true;
          this.read = this.tail;
        }
        if (!this.realTime && this.reads > 20_000)
          return fail('the source keeps reading and never ends');
        this.beforeRead?.(this, this.reads++);
        let available = this.records.filter((record) => record.pos >= this.read);
        if (available.length === 0 && this.realTime) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, timeoutMs);
            this.#wake = () => {
              clearTimeout(timer);
              this.#wake = null;
              resolve();
            };
          });
          if (closed) return fail('read after close');
          available = this.records.filter((record) => record.pos >= this.read);
        }
        if (available.length === 0) {
          this.clockMs += timeoutMs;
          return [];
        }
        const batch = available.slice(0, maxRecords);
        this.read = batch.at(-1)!.pos + 1n;
        return batch;
      },
      info: async () => this.info(),
      ack: async (pos) => {
        if (!reader) return fail('EBUSY');
        if (pos > this.read) return fail('EINVAL');
        this.#release(pos);
      },
      startSnapshot: async (_store, _chunk, options = {}): Promise<SnapshotStart> => {
        if (this.snapshot !== null) return fail('EBUSY');
        const id = ++this.lastSnapId;
        this.snapshot = { id, marker: this.head, image: Buffer.from(this.disk) };
        this.images.set(this.head, this.snapshot.image);
        snapshotOwned = id;
        const start = {
          snapId: id,
          markerPos: this.head,
          capacityChunks: 1000n,
          lostTotal: this.lostTotal,
          lastLossHead: this.lastLossHead,
        };
        if (options.releaseBelow) {
          if (this.read < this.head) this.read = this.head;
          this.#release(this.head);
        }
        this.#push('SNAP_START', 0, 0);
        return start;
      },
      stopSnapshot: async (snapId) => {
        if (this.snapshot?.id !== snapId) return fail('ENOENT');
        this.snapshot = null;
        snapshotOwned = null;
        this.#push('SNAP_STOP', 0, 0);
      },
      readSnapshot: async (snapId, offsetBytes, lengthBytes) => {
        if (this.snapshot?.id !== snapId) return fail('ENOENT');
        this.beforeSnapshotRead?.(this);
        return Buffer.from(this.snapshot.image.subarray(offsetBytes, offsetBytes + lengthBytes));
      },
      close: async () => {
        if (closed) return;
        closed = true;
        if (reader) this.readerOpen = false;
        if (snapshotOwned !== null && this.snapshot?.id === snapshotOwned) this.snapshot = null;
      },
    };
    return device;
  };
}
