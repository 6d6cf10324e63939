/**
 * One disk of the S3 target. An epoch is built as a chunk map: the base restore point's
 * map (empty for a FULL epoch), with every extent merged into the chunk slots it touches.
 *
 *   apply()        an extent covering a whole slot replaces it; one covering part of a slot
 *                  is merged into the slot's current content (read-modify-write: read from
 *                  the epoch's own newer version, else from the base restore point's chunk,
 *                  else zeros). Changed slots wait in memory as dirty chunks.
 *   (over budget)  when dirty chunks exceed `maxDirtyBytes`, the least recently written are
 *                  sealed: named by content, uploaded unless present, at most
 *                  `uploadConcurrency` at once. A slot written again later is read back.
 *   flush()        seals every dirty chunk, waits for the uploads, settles touched chunks
 *                  against a running garbage collection, then writes a journal segment
 *                  `pending/<feed>/<disk>/<epoch>/<seq>.json` with the slots changed since
 *                  the previous one. After flush() the epoch so far survives a crash: the
 *                  replay engine re-applies only records after the committed offset, and
 *                  beginEpoch() rebuilds the map from the base and the journal.
 *   commitEpoch()  writes the manifest with a create-only PUT, last, once all its chunks
 *                  exist; then drops the journal. A manifest already there for the same epoch
 *                  and digest (a crash after the PUT) is taken as this one.
 *
 * Memory is bounded by `maxDirtyBytes` plus two chunks per upload in flight, whatever the
 * disk's size; the chunk map itself takes 33 bytes per slot. Nothing is staged on local
 * disk: the bucket is the staging area, and journal segments make it recoverable.
 */
import type { Logger } from 'pino';
import { TargetError } from '../errors.js';
import type {
  ApplyExtent,
  EpochBegin,
  EpochCommit,
  RestorePointLocation,
  TargetDisk,
  TargetDiskInfo,
} from '../target.js';
import type { BucketLayout } from './bucket-layout.js';
import { isAllZeros } from './chunk-codec.js';
import { ChunkMap } from './chunk-map.js';
import type { ChunkStore } from './chunk-store.js';
import { baseManifest, newestManifest, type StoredManifest } from './epoch-base.js';
import {
  dropJournal,
  readJournal,
  writeJournalSegment,
  type EpochShape,
  type JournalContext,
} from './epoch-journal.js';
import { decodeManifest, encodeManifest, type Manifest } from './manifest.js';
import type { ObjectStore } from './object-store.js';
import { applyRetention, type RetentionPolicy } from './retention.js';
import { settleTouchedChunks, type SettleOptions } from './settle-touched.js';

export interface S3DiskOptions {
  readonly store: ObjectStore;
  readonly layout: BucketLayout;
  readonly chunks: ChunkStore;
  /** Chunk size of a disk's first restore point (and of every FULL epoch). */
  readonly chunkSizeBytes: number;
  readonly maxDirtyBytes: number;
  readonly uploadConcurrency: number;
  readonly settle: SettleOptions;
  /** Applied to the disk's restore points after each new one. */
  readonly retention?: RetentionPolicy;
  readonly logger: Logger;
  readonly now: () => number;
}

interface OpenEpoch {
  readonly begin: EpochBegin;
  readonly sizeBytes: number;
  readonly chunkSizeBytes: number;
  /** The epoch's map: what each slot holds once the uploads in flight are done. */
  readonly map: ChunkMap;
  /** A manifest already seals this epoch: nothing to build. */
  readonly sealed: { key: string; manifest: Manifest } | null;
  /** Slots changed since the last journal segment. */
  readonly unjournaled: Map<number, string | null>;
  /** Existing chunks this epoch touched and relies on: settled at the next flush. */
  readonly touched: Set<string>;
  /** When the oldest unjournaled change first relied on a chunk in the bucket. */
  relianceSinceMs: number | null;
  nextSeq: number;
}

interface Upload {
  readonly data: Buffer | null;
  readonly done: Promise<void>;
}

export class S3TargetDisk implements TargetDisk {
  readonly #options: S3DiskOptions;
  readonly #info: TargetDiskInfo;
  /** The newest restore point of the disk: the usual base, and a dedupe hint for FULL epochs. */
  #newest: StoredManifest | null = null;
  #newestLoaded = false;
  #epoch: OpenEpoch | null = null;
  /** slot → content (null: zeros), least recently written first. */
  readonly #dirty = new Map<number, Buffer | null>();
  #dirtyBytes = 0;
  readonly #uploads = new Map<number, Upload>();
  #failure: unknown = null;
  #closed = false;

  constructor(info: TargetDiskInfo, options: S3DiskOptions) {
    this.#info = info;
    this.#options = options;
  }

  get #where(): string {
    return `disk ${this.#info.diskId} of feed ${this.#info.feed}`;
  }

  get #journal(): JournalContext {
    const { store, layout } = this.#options;
    return { store, layout, feed: this.#info.feed, diskId: this.#info.diskId, where: this.#where };
  }

  #shape(epoch: OpenEpoch): EpochShape {
    return {
      epoch: epoch.begin.epoch,
      mode: epoch.begin.mode,
      baseEpoch: epoch.begin.baseEpoch,
      diskSizeBytes: epoch.sizeBytes,
      chunkSizeBytes: epoch.chunkSizeBytes,
    };
  }

  async beginEpoch(begin: EpochBegin): Promise<void> {
    this.#checkOpen();
    await this.#discardEpoch();
    const { store, layout } = this.#options;
    const { feed, diskId } = this.#info;
    if (!this.#newestLoaded) this.#newest = await newestManifest(this.#journal);
    this.#newestLoaded = true;
    const sealedKey = layout.manifestKey(feed, diskId, begin.epoch);
    const sealedBody = await store.get(sealedKey);
    if (sealedBody !== null) {
      const manifest = decodeManifest(sealedBody, `${store.url}${sealedKey}`);
      this.#epoch = this.#openEpoch(begin, manifest.chunkSizeBytes, manifest.chunks, {
        key: sealedKey,
        manifest,
      });
      return;
    }
    const base = await baseManifest(
      { ...this.#journal, keyId: this.#options.chunks.codec.keyId },
      begin,
      this.#newest,
    );
    const chunkSizeBytes = base?.manifest.chunkSizeBytes ?? this.#options.chunkSizeBytes;
    const slots = ChunkMap.slotsFor(begin.diskSizeBytes, chunkSizeBytes);
    const map = base === null ? new ChunkMap(slots) : base.manifest.chunks.resized(slots);
    const epoch = this.#openEpoch(begin, chunkSizeBytes, map, null);
    this.#epoch = epoch;
    if (base !== null && base.manifest.diskSizeBytes !== begin.diskSizeBytes)
      await this.#refitBoundarySlots(epoch, base.manifest);
    const journal = await readJournal(this.#journal, this.#shape(epoch));
    for (const [slot, name] of journal.changes) {
      epoch.map.set(slot, name);
      this.#dropDirty(slot);
    }
    epoch.nextSeq = journal.nextSeq;
  }

  async apply(extent: ApplyExtent): Promise<void> {
    const epoch = this.#openOrThrow();
    this.#throwFailure();
    const { offsetBytes, lengthBytes, op, data } = extent;
    if (
      !Number.isSafeInteger(offsetBytes) ||
      !Number.isSafeInteger(lengthBytes) ||
      offsetBytes < 0 ||
      lengthBytes < 0 ||
      offsetBytes + lengthBytes > epoch.sizeBytes
    )
      throw this.#badExtent(
        extent,
        `lies outside the disk's ${epoch.sizeBytes} bytes (range [${offsetBytes}, ${offsetBytes + lengthBytes}))`,
      );
    if (op === 'WRITE' && (data === null || data.length !== lengthBytes))
      throw this.#badExtent(
        extent,
        `carries ${data?.length ?? 'no'} data bytes for a length of ${lengthBytes}`,
      );
    if (lengthBytes === 0 || epoch.sealed !== null) return;
    const size = epoch.chunkSizeBytes;
    const endBytes = offsetBytes + lengthBytes;
    for (let slot = Math.floor(offsetBytes / size); slot * size < endBytes; slot++) {
      const slotStart = slot * size;
      const slotBytes = this.#slotBytes(epoch, slot);
      const from = Math.max(offsetBytes, slotStart);
      const to = Math.min(endBytes, slotStart + slotBytes);
      let content: Buffer | null;
      if (from === slotStart && to === slotStart + slotBytes) {
        content =
          op === 'WRITE' ? Buffer.from(data!.subarray(from - offsetBytes, to - offsetBytes)) : null;
      } else {
        content = await this.#current(epoch, slot);
        if (content === null && op !== 'WRITE') continue; // zeros over zeros
        content ??= Buffer.alloc(slotBytes);
        if (op === 'WRITE')
          data!.copy(content, from - slotStart, from - offsetBytes, to - offsetBytes);
        else content.fill(0, from - slotStart, to - slotStart);
      }
      this.#setDirty(slot, content);
    }
    while (this.#dirtyBytes > this.#options.maxDirtyBytes) {
      const oldest = this.#dirty.keys().next();
      if (oldest.done) break;
      await this.#seal(epoch, oldest.value);
    }
  }

  async flush(): Promise<void> {
    this.#checkOpen();
    const epoch = this.#epoch;
    if (epoch === null || epoch.sealed !== null) return;
    for (const slot of [...this.#dirty.keys()]) await this.#seal(epoch, slot);
    await Promise.all([...this.#uploads.values()].map((upload) => upload.done));
    this.#throwFailure();
    await this.#settle(epoch);
    if (epoch.unjournaled.size === 0) return;
    await writeJournalSegment(this.#journal, this.#shape(epoch), epoch.nextSeq, epoch.unjournaled);
    epoch.nextSeq++;
    epoch.unjournaled.clear();
    epoch.relianceSinceMs = null;
  }

  /**
   * Makes the chunks the next journal segment refers to safe from garbage collection (see
   * garbage-collector.ts): touched chunks are settled, and when the segment comes later
   * than `refreshAfterMs` after the first chunk it relies on (a stalled upload, a long wait
   * for a collection), all of its chunks are touched and settled again first.
   */
  async #settle(epoch: OpenEpoch): Promise<void> {
    const { store, layout, chunks, now } = this.#options;
    for (;;) {
      if (epoch.relianceSinceMs !== null && now() - epoch.relianceSinceMs > chunks.refreshAfterMs) {
        epoch.relianceSinceMs = now();
        for (const name of new Set(epoch.unjournaled.values())) {
          if (name === null) continue;
          epoch.touched.add(name);
          if ((await store.touch(layout.chunkKey(name))) === null)
            throw new TargetError(
              'EXTENTLOG_ERR_TARGET_CHUNK_MISSING',
              `${this.#where}: chunk ${store.url}${layout.chunkKey(name)} of epoch ${epoch.begin.epoch} vanished before it was journalled; the records are applied again`,
              { retriable: true, details: { chunk: name } },
            );
        }
      }
      if (epoch.touched.size > 0) {
        await settleTouchedChunks(
          [...epoch.touched],
          epoch.relianceSinceMs ?? now(),
          this.#options.settle,
        );
        epoch.touched.clear();
      }
      if (epoch.relianceSinceMs === null || now() - epoch.relianceSinceMs <= chunks.refreshAfterMs)
        return;
    }
  }

  async commitEpoch(commit: EpochCommit): Promise<RestorePointLocation> {
    const epoch = this.#openOrThrow();
    const { store, layout, logger } = this.#options;
    if (epoch.sealed !== null) {
      this.#checkSameEpoch(epoch.sealed.key, epoch.sealed.manifest, commit);
      this.#sealed(epoch.sealed);
      return { location: `${store.url}${epoch.sealed.key}` };
    }
    await this.flush();
    const key = layout.manifestKey(this.#info.feed, this.#info.diskId, commit.epoch);
    const manifest: Manifest = {
      feed: this.#info.feed,
      disk: this.#info.diskId,
      epoch: commit.epoch,
      mode: epoch.begin.mode,
      baseEpoch: epoch.begin.mode === 'FULL' ? null : epoch.begin.baseEpoch,
      sourceReference: commit.sourceReference,
      digest: commit.digest,
      extentCount: commit.extentCount,
      dataBytes: commit.bytes,
      committedAtMs: commit.committedAtMs,
      createdAtMs: this.#options.now(),
      diskSizeBytes: epoch.sizeBytes,
      chunkSizeBytes: epoch.chunkSizeBytes,
      encryption:
        this.#options.chunks.codec.keyId === null
          ? null
          : { algorithm: 'AES-256-GCM', keyId: this.#options.chunks.codec.keyId },
      chunks: epoch.map,
    };
    if ((await store.put(key, encodeManifest(manifest), { ifNoneMatch: true })) === 'exists') {
      const body = await store.get(key);
      const existing = decodeManifest(body ?? Buffer.alloc(0), `${store.url}${key}`);
      this.#checkSameEpoch(key, existing, commit);
      this.#sealed({ key, manifest: existing });
    } else {
      this.#sealed({ key, manifest });
    }
    await this.#retain(commit.epoch);
    await dropJournal(this.#journal, commit.epoch).catch((error: unknown) =>
      logger.warn(
        { err: error, disk: this.#info.diskId, epoch: commit.epoch },
        's3 target: could not remove the journal of a sealed epoch; garbage collection will',
      ),
    );
    return { location: `${store.url}${key}` };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#discardEpoch();
  }

  // --- epochs -------------------------------------------------------------------------

  /** Deletes the disk's restore points the retention policy no longer keeps (best effort). */
  async #retain(epochNumber: number): Promise<void> {
    const { retention, store, layout, logger, now } = this.#options;
    if (retention === undefined) return;
    try {
      const { deleted } = await applyRetention({
        store,
        layout,
        policy: retention,
        feed: this.#info.feed,
        diskId: this.#info.diskId,
        now,
      });
      if (deleted.length > 0)
        logger.info(
          { disk: this.#info.diskId, epoch: epochNumber, deleted: deleted.map((e) => e.epoch) },
          's3 target: retention removed restore points',
        );
    } catch (error) {
      logger.warn({ err: error, disk: this.#info.diskId }, 's3 target: retention failed');
    }
  }

  #openEpoch(
    begin: EpochBegin,
    chunkSizeBytes: number,
    map: ChunkMap,
    sealed: OpenEpoch['sealed'],
  ): OpenEpoch {
    return {
      begin,
      sizeBytes: begin.diskSizeBytes,
      chunkSizeBytes,
      map,
      sealed,
      unjournaled: new Map(),
      touched: new Set(),
      relianceSinceMs: null,
      nextSeq: 0,
    };
  }

  #sealed(point: { key: string; manifest: Manifest }): void {
    this.#newest = point;
    this.#newestLoaded = true;
    this.#epoch = null;
  }

  /** The slots at the old and new end of a resized disk change length: re-cut them. */
  async #refitBoundarySlots(epoch: OpenEpoch, base: Manifest): Promise<void> {
    const size = epoch.chunkSizeBytes;
    const lengthIn = (diskBytes: number, slot: number) =>
      Math.max(0, Math.min(size, diskBytes - slot * size));
    const slots = new Set([
      Math.floor(base.diskSizeBytes / size),
      Math.floor(epoch.sizeBytes / size),
    ]);
    for (const slot of slots) {
      const oldBytes = lengthIn(base.diskSizeBytes, slot);
      const newBytes = lengthIn(epoch.sizeBytes, slot);
      const name = slot < epoch.map.slotCount ? epoch.map.get(slot) : null;
      if (name === null || oldBytes === newBytes || newBytes === 0) continue;
      const old = await this.#options.chunks.read(name, oldBytes, `${this.#where}, slot ${slot}`);
      const content = Buffer.alloc(newBytes);
      old.copy(content, 0, 0, Math.min(oldBytes, newBytes));
      this.#setDirty(slot, content);
    }
  }

  #checkSameEpoch(key: string, existing: Manifest, commit: EpochCommit): void {
    if (existing.epoch === commit.epoch && existing.digest === commit.digest) return;
    throw new TargetError(
      'EXTENTLOG_ERR_TARGET_MANIFEST',
      `${this.#where}: ${this.#options.store.url}${key} already seals epoch ${existing.epoch} with digest ${existing.digest}, but this epoch ${commit.epoch} has digest ${commit.digest}; nothing was overwritten. Two targets write the same bucket prefix, or the feed was recreated: give each its own prefix`,
      { details: { key, digest: commit.digest, existingDigest: existing.digest } },
    );
  }

  /** Waits for uploads and forgets the open epoch's unsealed work. */
  async #discardEpoch(): Promise<void> {
    await Promise.allSettled([...this.#uploads.values()].map((upload) => upload.done));
    this.#uploads.clear();
    this.#dirty.clear();
    this.#dirtyBytes = 0;
    this.#failure = null;
    this.#epoch = null;
  }

  // --- chunks -------------------------------------------------------------------------

  #slotBytes(epoch: OpenEpoch, slot: number): number {
    return Math.min(epoch.chunkSizeBytes, epoch.sizeBytes - slot * epoch.chunkSizeBytes);
  }

  /** A private, writable copy of the slot's current content; null when it is zeros. */
  async #current(epoch: OpenEpoch, slot: number): Promise<Buffer | null> {
    if (this.#dirty.has(slot)) return this.#dirty.get(slot) ?? null;
    const upload = this.#uploads.get(slot);
    if (upload !== undefined) return upload.data === null ? null : Buffer.from(upload.data);
    const name = epoch.map.get(slot);
    if (name === null) return null;
    return this.#options.chunks.read(
      name,
      this.#slotBytes(epoch, slot),
      `${this.#where}, epoch ${epoch.begin.epoch}, slot ${slot}`,
    );
  }

  #setDirty(slot: number, content: Buffer | null): void {
    this.#dropDirty(slot);
    this.#dirty.set(slot, content);
    this.#dirtyBytes += content?.length ?? 0;
  }

  #dropDirty(slot: number): void {
    if (!this.#dirty.has(slot)) return;
    this.#dirtyBytes -= this.#dirty.get(slot)?.length ?? 0;
    this.#dirty.delete(slot);
  }

  /** Starts the upload of a dirty slot, once the slot's previous upload and a free lane allow. */
  async #seal(epoch: OpenEpoch, slot: number): Promise<void> {
    const content = this.#dirty.get(slot) ?? null;
    this.#dropDirty(slot);
    await this.#uploads.get(slot)?.done;
    while (this.#uploads.size >= this.#options.uploadConcurrency)
      await Promise.race([...this.#uploads.values()].map((upload) => upload.done));
    this.#throwFailure();
    const upload: Upload = {
      data: content,
      done: this.#upload(epoch, slot, content).then(
        () => undefined,
        (error: unknown) => {
          this.#failure ??= error;
        },
      ),
    };
    this.#uploads.set(slot, upload);
    void upload.done.then(() => {
      if (this.#uploads.get(slot) === upload) this.#uploads.delete(slot);
    });
  }

  async #upload(epoch: OpenEpoch, slot: number, content: Buffer | null): Promise<void> {
    let name: string | null = null;
    if (content !== null && !isAllZeros(content)) {
      const { chunks } = this.#options;
      name = await chunks.codec.nameOf(content);
      // Unchanged, or the newest restore point has it in this slot: it exists and is referenced.
      const known =
        epoch.map.get(slot) === name || this.#newest?.manifest.chunks.get(slot) === name;
      if (!known) {
        epoch.relianceSinceMs ??= this.#options.now();
        // Found in the bucket (fresh or touched): a running collection may still delete it.
        if ((await chunks.write(name, content)) !== 'uploaded') epoch.touched.add(name);
      }
    }
    if (epoch.map.get(slot) !== name || epoch.unjournaled.has(slot)) {
      epoch.map.set(slot, name);
      epoch.unjournaled.set(slot, name);
    }
  }

  // --- checks -------------------------------------------------------------------------

  #throwFailure(): void {
    const failure = this.#failure;
    if (failure === null) return;
    throw failure instanceof TargetError
      ? failure
      : new TargetError('EXTENTLOG_ERR_TARGET_WRITE', `${this.#where}: ${String(failure)}`, {
          cause: failure,
        });
  }

  #openOrThrow(): OpenEpoch {
    this.#checkOpen();
    if (this.#epoch === null)
      throw new TargetError(
        'EXTENTLOG_ERR_TARGET_CLOSED',
        `${this.#where}: an extent or commit arrived without beginEpoch()`,
      );
    return this.#epoch;
  }

  #checkOpen(): void {
    if (this.#closed)
      throw new TargetError('EXTENTLOG_ERR_TARGET_CLOSED', `${this.#where}: used after close()`);
  }

  #badExtent(extent: ApplyExtent, problem: string): TargetError {
    return new TargetError(
      'EXTENTLOG_ERR_TARGET_BAD_EXTENT',
      `${this.#where}: ${extent.op} extent at offset ${extent.offsetBytes} of ${extent.lengthBytes} bytes ${problem}`,
      { details: { offsetBytes: extent.offsetBytes, lengthBytes: extent.lengthBytes } },
    );
  }
}
