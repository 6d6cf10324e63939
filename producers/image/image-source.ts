/**
 * The image source: change detection by hash compare, for any raw image file or block
 * device (a loop device, an LVM or ZFS snapshot volume). The universal fallback when a
 * platform offers no change tracking, and the demo's source.
 *
 * Each cycle reads the whole disk sequentially (skipping holes with SEEK_DATA/SEEK_HOLE),
 * hashes every block (XXH3-128) and compares with the digests of the last committed cycle,
 * kept in a hash file per disk in `stateDir` (see hash-file.ts for why not in the log). Its
 * `reference` is `hashmap:<random id>`, stored in the hash file's header.
 *
 * Consistency: the source reads the path as it is while the cycle runs. For a consistent
 * point in time the path must not change during a cycle: point it at a snapshot (LVM or ZFS
 * snapshot volume, a qcow2 image's read-only backing file, a copy) or quiesce the writer. A
 * size change mid-cycle is detected and aborts the cycle; other concurrent writes are not.
 *
 * Crash safety: a cycle writes `<disk>.hashmap.next` and `commit()` (after SyncCommit is in
 * the log) renames it over `<disk>.hashmap`. After a crash between the two, the `.next`
 * carries the reference the log committed: `open()` recognises it and promotes it.
 */
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import type { Logger } from 'pino';
import * as fileio from '../../native/fileio/index.js';
import { ConfiguredDisks, isPowerOfTwoWithin } from '../configured-disks.js';
import { SourceError } from '../errors.js';
import type { ChangeSet, ChangeSource, CommittedReference, DiskInfo } from '../source.js';
import {
  createBlockHasher,
  DIGEST_BYTES,
  isHashAlgorithmName,
  type HashAlgorithmName,
} from './block-hasher.js';
import { chooseCycleMode } from './cycle-mode.js';
import { DiskFile } from './disk-file.js';
import {
  HashFileReader,
  HashFileWriter,
  hashFilePaths,
  promote,
  readHashFileStatus,
  removeNext,
  type HashFilePaths,
} from './hash-file.js';
import { createImageCycle } from './image-cycle.js';
import { stateOperation } from './state-operation.js';

export interface ImageDiskConfig {
  readonly diskId: string;
  /** A raw image file or a block device. */
  readonly path: string;
}

export interface ImageSourceOptions {
  readonly disks: readonly ImageDiskConfig[];
  /** Where the per-disk hash files live; created if missing. */
  readonly stateDir: string;
  /** Change granularity: a power of two from 512 bytes to 1 MiB. */
  readonly blockSizeBytes?: number;
  /** How much of the disk one read covers; a multiple of blockSizeBytes. Memory is ~2 windows. */
  readonly windowBytes?: number;
  /** 'xxh3-128' needs the fileio addon; 'sha256-128' is the slower pure-Node.js fallback. */
  readonly hashAlgorithm?: HashAlgorithmName;
  /** Skip holes with SEEK_DATA/SEEK_HOLE (needs the fileio addon); false reads holes as data. */
  readonly detectHoles?: boolean;
  readonly logger: Logger;
}

const MiB = 1024 * 1024;
export const DEFAULT_WINDOW_BYTES = 8 * MiB;

function configError(message: string): SourceError {
  return new SourceError('EXTENTLOG_ERR_SOURCE_CONFIG', `image source: ${message}`);
}

function validate(options: ImageSourceOptions) {
  const blockSizeBytes = options.blockSizeBytes ?? 4096;
  const windowBytes = options.windowBytes ?? DEFAULT_WINDOW_BYTES;
  const hashAlgorithm = options.hashAlgorithm ?? 'xxh3-128';
  const detectHoles = options.detectHoles ?? true;
  if (!isPowerOfTwoWithin(blockSizeBytes, 512, MiB))
    throw configError(
      `blockSizeBytes must be a power of two from 512 to 1048576, received ${blockSizeBytes}`,
    );
  if (
    !Number.isSafeInteger(windowBytes) ||
    windowBytes < blockSizeBytes ||
    windowBytes > 256 * MiB ||
    windowBytes % blockSizeBytes !== 0
  )
    throw configError(
      `windowBytes must be a multiple of blockSizeBytes (${blockSizeBytes}) up to 268435456, received ${windowBytes}`,
    );
  if (!isHashAlgorithmName(hashAlgorithm))
    throw configError(
      `hashAlgorithm must be 'xxh3-128' or 'sha256-128', received ${String(hashAlgorithm)}`,
    );
  if (options.disks.length === 0) throw configError('disks must name at least one disk');
  const byId = new Map<string, ImageDiskConfig>();
  for (const disk of options.disks) {
    if (byId.has(disk.diskId)) throw configError(`disk id ${disk.diskId} is configured twice`);
    if (disk.diskId === '' || disk.path === '')
      throw configError('every disk needs a non-empty diskId and path');
    byId.set(disk.diskId, disk);
  }
  if (hashAlgorithm === 'xxh3-128')
    fileio.assertAvailable(
      "the image source's xxh3-128 hashing (or set hashAlgorithm: 'sha256-128')",
    );
  if (detectHoles)
    fileio.assertAvailable("the image source's hole detection (or set detectHoles: false)");
  return { blockSizeBytes, windowBytes, hashAlgorithm, detectHoles, byId };
}

export function createImageSource(options: ImageSourceOptions): ChangeSource {
  const { blockSizeBytes, windowBytes, hashAlgorithm, detectHoles, byId } = validate(options);
  const { logger, stateDir } = options;
  const openCycles = new Set<ChangeSet>();

  const configured = new ConfiguredDisks('image', byId);
  const configOf = (diskId: string): ImageDiskConfig => configured.get(diskId);

  /** A complete `.next` holding the committed reference is a commit whose rename was lost. */
  async function recoverNext(
    diskId: string,
    paths: HashFilePaths,
    since: CommittedReference | null,
  ) {
    const next = await stateOperation(diskId, paths.next, () => readHashFileStatus(paths.next));
    if (next.kind === 'missing') return;
    if (next.kind === 'valid' && since !== null && next.header.reference === since.reference) {
      await stateOperation(diskId, paths.next, () => promote(paths));
      logger.info(
        { diskId, reference: since.reference, path: paths.current },
        'image source: promoted the hash file of a cycle committed before a crash',
      );
      return;
    }
    await stateOperation(diskId, paths.next, () => removeNext(paths));
  }

  async function open(requested: DiskInfo, since: CommittedReference | null): Promise<ChangeSet> {
    const config = configOf(requested.diskId);
    const { diskId } = config;
    await stateOperation(diskId, stateDir, () => mkdir(stateDir, { recursive: true }));
    const file = await DiskFile.open(diskId, config.path, detectHoles);
    let base: HashFileReader | null = null;
    let next: HashFileWriter | null = null;
    try {
      const paths = hashFilePaths(stateDir, diskId);
      await recoverNext(diskId, paths, since);
      const status = await stateOperation(diskId, paths.current, () =>
        readHashFileStatus(paths.current),
      );
      const hasher = await createBlockHasher(hashAlgorithm, blockSizeBytes, file.sizeBytes);
      const choice = chooseCycleMode({
        since,
        status,
        hashFilePath: paths.current,
        algorithmId: hasher.id,
        blockSizeBytes,
        diskSizeBytes: file.sizeBytes,
      });
      const reference = `hashmap:${randomBytes(12).toString('hex')}`;
      if (choice.mode === 'INCREMENTAL') {
        const header = choice.base;
        base = await stateOperation(diskId, paths.current, () =>
          HashFileReader.open(paths.current, header),
        );
      }
      next = await stateOperation(diskId, paths.next, () =>
        HashFileWriter.create(paths.next, {
          algorithmId: hasher.id,
          blockSizeBytes,
          diskSizeBytes: file.sizeBytes,
          digestBytes: DIGEST_BYTES,
          reference,
        }),
      );
      const disk: DiskInfo = { diskId, sizeBytes: file.sizeBytes, blockSizeBytes };
      logger.info(
        {
          diskId,
          path: config.path,
          mode: choice.mode,
          reference,
          ...(choice.mode === 'FULL' && choice.rebaselineReason !== undefined
            ? { rebaselineReason: choice.rebaselineReason }
            : {}),
        },
        'image source: cycle opened',
      );
      const cycle: ChangeSet = createImageCycle({
        disk,
        file,
        mode: choice.mode,
        reference,
        baseReference: choice.mode === 'INCREMENTAL' ? choice.base.reference : null,
        ...(choice.mode === 'FULL' && choice.rebaselineReason !== undefined
          ? { rebaselineReason: choice.rebaselineReason }
          : {}),
        hasher,
        base,
        next,
        paths,
        windowBytes,
        openedAtNs: BigInt(Date.now()) * 1_000_000n,
        logger,
        onSettled: () => openCycles.delete(cycle),
      });
      openCycles.add(cycle);
      return cycle;
    } catch (error) {
      await Promise.allSettled([file.close(), base?.close(), next?.close()]);
      throw error;
    }
  }

  return {
    kind: 'image',
    async disks() {
      const infos: DiskInfo[] = [];
      for (const { diskId, path } of byId.values()) {
        const file = await DiskFile.open(diskId, path, false);
        infos.push({ diskId, sizeBytes: file.sizeBytes, blockSizeBytes });
        await file.close();
      }
      return infos;
    },
    open,
    async close() {
      await Promise.allSettled([...openCycles].map((cycle) => cycle.abort('source closed')));
    },
  };
}
