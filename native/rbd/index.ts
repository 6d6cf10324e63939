/**
 * The `rbd` addon: Ceph RBD images through Debian's librados and librbd (the C APIs of
 * include/rados/librados.h and include/rbd/librbd.h). Connect to a cluster, open an image at
 * its head or read-only at a snapshot, list and manage snapshots, `rbd_diff_iterate2` between
 * two snapshots, and read with `rbd_aio_read` (as many reads in flight as the caller starts).
 * Nothing blocks the event loop: every call runs on libuv's thread pool or completes through
 * librbd's aio. A refusal becomes NativeError EXTENTLOG_ERR_NATIVE_SYSCALL whose details carry
 * the errno name and the librados/librbd call (`rados_connect`, `rbd_open_read_only` …).
 *
 * Offsets and lengths are bytes; ranges are half-open [offsetBytes, offsetBytes + lengthBytes).
 */
import { loadAddon } from '../addon-loader.js';
import { callNative, invalidArgument } from '../native-call.js';

interface NativeImage {
  stat(): Promise<RbdImageStat>;
  snapList(): Promise<RbdSnapshot[]>;
  snapCreate(name: string): Promise<void>;
  snapRemove(name: string): Promise<void>;
  snapProtect(name: string): Promise<void>;
  snapUnprotect(name: string): Promise<void>;
  diff(fromSnap: string | null, offsetBytes: number, lengthBytes: number): Promise<Float64Array>;
  read(offsetBytes: number, buffer: Buffer): Promise<number>;
  write(offsetBytes: number, data: Buffer): Promise<void>;
  discard(offsetBytes: number, lengthBytes: number): Promise<void>;
  close(): Promise<void>;
}

interface NativeCluster {
  openImage(
    pool: string,
    image: string,
    snap: string | null,
    readOnly: boolean,
  ): Promise<NativeImage>;
  shutdown(): Promise<void>;
}

interface RbdAddon {
  connect(clientId: string, confPath: string, settings: [string, string][]): Promise<NativeCluster>;
  readonly librbdVersion: string;
}

export const ADDON_NAME = 'rbd';

const handle = loadAddon<RbdAddon>(
  ADDON_NAME,
  import.meta.url,
  'install the Debian packages librbd-dev, librados-dev and build-essential, then run `npm run build:native`',
);

export function isAvailable(): boolean {
  return handle.isAvailable();
}

/** Throws `NativeError` (EXTENTLOG_ERR_NATIVE_NOT_BUILT) naming `neededFor` unless the addon loads. */
export function assertAvailable(neededFor: string): void {
  handle.get(neededFor);
}

/** librbd's version as `major.minor.extra` (Ceph 16 "pacific" ships librbd 1.16.x). */
export function librbdVersion(): string {
  return handle.get().librbdVersion;
}

export interface RbdConnectOptions {
  /** A ceph.conf to read first (monitor addresses, auth settings, keyring path …). */
  readonly confPath?: string;
  /** A keyring holding the client's cephx key. */
  readonly keyringPath?: string;
  /** Monitor addresses (`v2:10.0.0.1:3300`, `10.0.0.1:6789` …), instead of or over the conf. */
  readonly monHosts?: readonly string[];
  /** The cephx secret (base64), instead of a keyring. Never logged. */
  readonly key?: string;
  /** The client id without `client.` (default 'admin'). */
  readonly clientId?: string;
  /** How long connecting and every monitor and OSD operation may take (default 30 s). */
  readonly timeoutMs?: number;
  /** Further `rados_conf_set` options, applied last. */
  readonly settings?: Readonly<Record<string, string>>;
}

export interface RbdImageStat {
  readonly sizeBytes: number;
  readonly objectSizeBytes: number;
  readonly objects: number;
  /** log2 of the object size. */
  readonly order: number;
  /** RBD_FEATURE_* bits (include/rbd/features.h). */
  readonly features: bigint;
}

export interface RbdSnapshot {
  readonly id: number;
  readonly name: string;
  readonly sizeBytes: number;
  readonly protected: boolean;
}

/** One extent `rbd_diff_iterate2` reported: data (`exists`) or zeroed/discarded (`!exists`). */
export interface RbdDiffExtent {
  readonly offsetBytes: number;
  readonly lengthBytes: number;
  readonly exists: boolean;
}

/** RBD_FEATURE_* bits of include/rbd/features.h, for `RbdImageStat.features`. */
export const RBD_FEATURES = {
  layering: 1n << 0n,
  stripingV2: 1n << 1n,
  exclusiveLock: 1n << 2n,
  objectMap: 1n << 3n,
  fastDiff: 1n << 4n,
  deepFlatten: 1n << 5n,
  journaling: 1n << 6n,
  dataPool: 1n << 7n,
} as const;

function invalid(name: string, expected: string, received: unknown) {
  return invalidArgument(ADDON_NAME, name, expected, received);
}

function checkName(what: string, value: string): void {
  if (typeof value !== 'string' || value === '' || value.includes('\0'))
    throw invalid(what, 'a non-empty string', value);
}

function checkRange(offsetBytes: number, lengthBytes: number, minimumLength: number): void {
  if (!Number.isSafeInteger(offsetBytes) || offsetBytes < 0)
    throw invalid('offsetBytes', 'a safe integer ≥ 0', offsetBytes);
  if (!Number.isSafeInteger(lengthBytes) || lengthBytes < minimumLength)
    throw invalid('lengthBytes', `a safe integer ≥ ${minimumLength}`, lengthBytes);
  if (!Number.isSafeInteger(offsetBytes + lengthBytes))
    throw invalid('offsetBytes + lengthBytes', 'a safe integer', offsetBytes + lengthBytes);
}

function connectSettings(options: RbdConnectOptions): [string, string][] {
  const timeoutMs = options.timeoutMs ?? 30_000;
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1000)
    throw invalid('timeoutMs', 'an integer ≥ 1000', timeoutMs);
  const seconds = String(Math.ceil(timeoutMs / 1000));
  const settings: [string, string][] = [
    // librados logs to stderr by default; every refusal reaches the caller as errno + call.
    ['log_to_stderr', 'false'],
    ['err_to_stderr', 'false'],
    ['client_mount_timeout', seconds],
    ['rados_mon_op_timeout', seconds],
    ['rados_osd_op_timeout', seconds],
  ];
  if (options.monHosts !== undefined) {
    if (options.monHosts.length === 0 || options.monHosts.some((host) => host === ''))
      throw invalid('monHosts', 'a non-empty list of monitor addresses', 'an empty list');
    settings.push(['mon_host', options.monHosts.join(',')]);
  }
  if (options.keyringPath !== undefined) settings.push(['keyring', options.keyringPath]);
  if (options.key !== undefined) settings.push(['key', options.key]);
  for (const [key, value] of Object.entries(options.settings ?? {})) settings.push([key, value]);
  return settings;
}

/**
 * An open image. Calls may overlap (librbd is thread-safe per image); `close()` waits for
 * every call in flight.
 */
export class RbdImage {
  readonly #native: NativeImage;
  readonly #context: Readonly<Record<string, unknown>>;
  readonly #pending = new Set<Promise<unknown>>();
  #closed: Promise<void> | null = null;

  /** @internal */
  constructor(native: NativeImage, context: Readonly<Record<string, unknown>>) {
    this.#native = native;
    this.#context = context;
  }

  #call<T>(run: () => Promise<T>, extra: Readonly<Record<string, unknown>> = {}): Promise<T> {
    if (this.#closed !== null)
      return Promise.reject(invalid('image', 'an open image', 'a closed one'));
    const promise = callNative(run, { ...this.#context, ...extra });
    this.#pending.add(promise);
    const forget = () => this.#pending.delete(promise);
    promise.then(forget, forget);
    return promise;
  }

  stat(): Promise<RbdImageStat> {
    return this.#call(() => this.#native.stat());
  }

  snapshots(): Promise<RbdSnapshot[]> {
    return this.#call(() => this.#native.snapList());
  }

  createSnapshot(name: string): Promise<void> {
    checkName('snapName', name);
    return this.#call(() => this.#native.snapCreate(name), { snap: name });
  }

  removeSnapshot(name: string): Promise<void> {
    checkName('snapName', name);
    return this.#call(() => this.#native.snapRemove(name), { snap: name });
  }

  protectSnapshot(name: string): Promise<void> {
    checkName('snapName', name);
    return this.#call(() => this.#native.snapProtect(name), { snap: name });
  }

  unprotectSnapshot(name: string): Promise<void> {
    checkName('snapName', name);
    return this.#call(() => this.#native.snapUnprotect(name), { snap: name });
  }

  /**
   * `rbd_diff_iterate2` over [offsetBytes, offsetBytes + lengthBytes) from `fromSnap` (null:
   * from the image's creation, i.e. every allocated extent) to the snapshot the image was opened
   * at (or its head). Exact extents (whole-object mode off), parents included, in offset order.
   */
  async diff(
    fromSnap: string | null,
    offsetBytes: number,
    lengthBytes: number,
  ): Promise<RbdDiffExtent[]> {
    if (fromSnap !== null) checkName('fromSnap', fromSnap);
    checkRange(offsetBytes, lengthBytes, 0);
    const triplets = await this.#call(() => this.#native.diff(fromSnap, offsetBytes, lengthBytes), {
      fromSnap: fromSnap ?? '(creation)',
    });
    const extents: RbdDiffExtent[] = [];
    for (let index = 0; index + 2 < triplets.length; index += 3)
      extents.push({
        offsetBytes: triplets[index]!,
        lengthBytes: triplets[index + 1]!,
        exists: triplets[index + 2] === 1,
      });
    return extents;
  }

  /** One `rbd_aio_read`; bytes past the image's end read as a short count, so this throws. */
  async read(offsetBytes: number, lengthBytes: number): Promise<Buffer> {
    checkRange(offsetBytes, lengthBytes, 1);
    const buffer = Buffer.allocUnsafe(lengthBytes);
    const count = await this.#call(() => this.#native.read(offsetBytes, buffer), {
      offsetBytes,
      lengthBytes,
    });
    if (count !== lengthBytes)
      throw invalid(
        'offsetBytes + lengthBytes',
        `within the image (read ${count} bytes)`,
        offsetBytes + lengthBytes,
      );
    return buffer;
  }

  write(offsetBytes: number, data: Buffer): Promise<void> {
    checkRange(offsetBytes, data.length, 1);
    return this.#call(() => this.#native.write(offsetBytes, data), {
      offsetBytes,
      lengthBytes: data.length,
    });
  }

  discard(offsetBytes: number, lengthBytes: number): Promise<void> {
    checkRange(offsetBytes, lengthBytes, 1);
    return this.#call(() => this.#native.discard(offsetBytes, lengthBytes), {
      offsetBytes,
      lengthBytes,
    });
  }

  /** Waits for the calls in flight, then closes; idempotent. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      await Promise.allSettled([...this.#pending]);
      await callNative(() => this.#native.close(), this.#context);
    })();
    return this.#closed;
  }
}

export interface OpenImageOptions {
  /** Open read-only at this snapshot; omit for the image's head. */
  readonly snapName?: string;
  /** Read-only (the default at a snapshot); a head opened read-write can take snapshots. */
  readonly readOnly?: boolean;
}

export class RbdCluster {
  readonly #native: NativeCluster;
  readonly #images = new Set<RbdImage>();
  #shutdown: Promise<void> | null = null;

  /** @internal */
  constructor(native: NativeCluster) {
    this.#native = native;
  }

  async openImage(pool: string, image: string, options: OpenImageOptions = {}): Promise<RbdImage> {
    checkName('pool', pool);
    checkName('image', image);
    if (options.snapName !== undefined) checkName('snapName', options.snapName);
    if (this.#shutdown !== null) throw invalid('cluster', 'a connected cluster', 'a shut down one');
    const readOnly = options.readOnly ?? options.snapName !== undefined;
    const context = {
      pool,
      image,
      ...(options.snapName === undefined ? {} : { snap: options.snapName }),
    };
    const native = await callNative(
      () => this.#native.openImage(pool, image, options.snapName ?? null, readOnly),
      context,
    );
    const opened = new RbdImage(native, context);
    this.#images.add(opened);
    const close = opened.close.bind(opened);
    opened.close = () => close().finally(() => this.#images.delete(opened));
    return opened;
  }

  /** Closes the images still open, then disconnects; idempotent. */
  shutdown(): Promise<void> {
    this.#shutdown ??= (async () => {
      await Promise.allSettled([...this.#images].map((image) => image.close()));
      await callNative(() => this.#native.shutdown(), { call: 'shutdown' });
    })();
    return this.#shutdown;
  }
}

/**
 * Connects to a Ceph cluster. An unreachable monitor fails after `timeoutMs` with errno
 * ETIMEDOUT (`rados_connect`); a refused cephx key with EACCES or EPERM.
 */
export async function connect(options: RbdConnectOptions): Promise<RbdCluster> {
  const addon = handle.get('Ceph RBD access');
  const clientId = options.clientId ?? 'admin';
  checkName('clientId', clientId);
  if (options.confPath === undefined && options.monHosts === undefined)
    throw invalid('confPath or monHosts', 'a ceph.conf path or monitor addresses', 'neither');
  const settings = connectSettings(options);
  const native = await callNative(() => addon.connect(clientId, options.confPath ?? '', settings), {
    client: `client.${clientId}`,
    ...(options.confPath === undefined ? {} : { conf: options.confPath }),
    ...(options.monHosts === undefined ? {} : { monHosts: options.monHosts.join(',') }),
  });
  return new RbdCluster(native);
}
