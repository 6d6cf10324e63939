/**
 * The OpenStack APIs the RBD source uses, over HTTP with the token of a Keystone v3 password
 * authentication (Identity API v3 `POST /v3/auth/tokens`: the token comes back in the
 * `X-Subject-Token` header, the service catalog in the body). Endpoints come from the catalog
 * (`compute` for Nova, `volumev3` or `block-storage` for Cinder), by interface and region.
 * Calls: Nova `GET /servers/{id}/os-volume_attachments` (Compute API 2.1), Cinder
 * `GET /volumes/{id}`, `POST /snapshots` (`force: true` for in-use volumes),
 * `GET /snapshots/detail?volume_id=`, `GET /snapshots/{id}`, `DELETE /snapshots/{id}`
 * (Block Storage API v3). A 401 on a call
 * re-authenticates once (the token expired or was revoked). Nothing in OpenStack changes.
 */
import { SourceError } from '../errors.js';

export interface OpenStackOptions {
  /** Keystone's v3 endpoint, e.g. https://keystone.example:5000/v3 */
  readonly authUrl: string;
  readonly username: string;
  readonly password: string;
  readonly userDomainName: string;
  readonly projectName: string;
  readonly projectDomainName: string;
  /** The catalog region; the first endpoint of the interface when omitted. */
  readonly region?: string;
  /** Catalog interface: 'public' (default), 'internal' or 'admin'. */
  readonly interface?: 'public' | 'internal' | 'admin';
  readonly timeoutMs?: number;
}

export interface VolumeAttachment {
  readonly volumeId: string;
  readonly device: string | null;
}

export interface CinderVolume {
  readonly id: string;
  readonly status: string;
  readonly sizeGiB: number;
}

export interface CinderSnapshot {
  readonly id: string;
  readonly volumeId: string;
  readonly name: string;
  readonly status: string;
}

interface RawSnapshot {
  id: string;
  volume_id: string;
  name?: string | null;
  status: string;
}

type Service = 'compute' | 'volume';

interface Session {
  readonly token: string;
  readonly endpoints: ReadonlyMap<Service, string>;
}

interface CatalogEntry {
  type?: string;
  endpoints?: { interface?: string; region?: string; region_id?: string; url?: string }[];
}

const SERVICE_TYPES: Record<Service, readonly string[]> = {
  compute: ['compute'],
  volume: ['volumev3', 'block-storage', 'volume'],
};

/** The message of an OpenStack error body: `{"badRequest": {"message": …}}`, `{"error": …}`. */
function serviceMessage(text: string): string {
  try {
    const body = JSON.parse(text) as Record<string, { message?: unknown } | undefined>;
    for (const value of Object.values(body))
      if (typeof value?.message === 'string') return value.message;
  } catch {
    // not JSON: the text itself
  }
  return text.slice(0, 300);
}

export class OpenStackClient {
  readonly #options: OpenStackOptions;
  #session: Promise<Session> | null = null;

  constructor(options: OpenStackOptions) {
    this.#options = options;
  }

  async #fetch(method: string, url: string, token: string | null, body?: unknown) {
    try {
      return await fetch(url, {
        method,
        headers: {
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(token === null ? {} : { 'x-auth-token': token }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.#options.timeoutMs ?? 30_000),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw new SourceError(
        'EXTENTLOG_ERR_SOURCE_CONNECT',
        `OpenStack ${method} ${url} did not answer: ${cause?.code ?? cause?.message ?? (error as Error).message}; check the URL and that the service is reachable`,
        { cause: error, details: { method, url } },
      );
    }
  }

  async #authenticate(): Promise<Session> {
    const options = this.#options;
    const url = `${options.authUrl.replace(/\/+$/, '')}/auth/tokens`;
    const response = await this.#fetch('POST', url, null, {
      auth: {
        identity: {
          methods: ['password'],
          password: {
            user: {
              name: options.username,
              domain: { name: options.userDomainName },
              password: options.password,
            },
          },
        },
        scope: {
          project: { name: options.projectName, domain: { name: options.projectDomainName } },
        },
      },
    });
    const text = await response.text();
    if (response.status === 401 || response.status === 403)
      throw new SourceError(
        'EXTENTLOG_ERR_SOURCE_AUTH',
        `Keystone refused user ${options.username} (domain ${options.userDomainName}) for project ${options.projectName}: ${response.status} ${serviceMessage(text)}; check the user, the password file and the project`,
        { details: { url, status: response.status } },
      );
    const token = response.headers.get('x-subject-token');
    if (response.status !== 201 || token === null)
      throw new SourceError(
        'EXTENTLOG_ERR_SOURCE_API',
        `Keystone POST ${url} answered ${response.status} ${token === null ? 'without X-Subject-Token' : ''}: ${serviceMessage(text)}`,
        { details: { url, status: response.status } },
      );
    const catalog = (JSON.parse(text) as { token?: { catalog?: CatalogEntry[] } }).token?.catalog;
    const endpoints = new Map<Service, string>();
    for (const service of ['compute', 'volume'] as const) {
      const wanted = options.interface ?? 'public';
      const endpoint = (catalog ?? [])
        .filter((entry) => SERVICE_TYPES[service].includes(entry.type ?? ''))
        .flatMap((entry) => entry.endpoints ?? [])
        .find(
          (candidate) =>
            candidate.interface === wanted &&
            (options.region === undefined ||
              candidate.region_id === options.region ||
              candidate.region === options.region),
        );
      if (endpoint?.url !== undefined) endpoints.set(service, endpoint.url.replace(/\/+$/, ''));
    }
    return { token, endpoints };
  }

  #sessionOf(): Promise<Session> {
    this.#session ??= this.#authenticate().catch((error: unknown) => {
      this.#session = null;
      throw error;
    });
    return this.#session;
  }

  async #call<T>(
    service: Service,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<T | null> {
    for (let attempt = 0; ; attempt++) {
      const session = await this.#sessionOf();
      const base = session.endpoints.get(service);
      if (base === undefined)
        throw new SourceError(
          'EXTENTLOG_ERR_SOURCE_API',
          `the Keystone service catalog has no ${this.#options.interface ?? 'public'} ${SERVICE_TYPES[service].join(' or ')} endpoint${this.#options.region === undefined ? '' : ` in region ${this.#options.region}`}`,
        );
      const url = `${base}${path}`;
      const response = await this.#fetch(method, url, session.token, body);
      const text = await response.text();
      if (response.status === 401 && attempt === 0) {
        this.#session = null;
        continue;
      }
      if (response.status === 404 && method !== 'POST') return null;
      if (response.status >= 300)
        throw new SourceError(
          response.status === 401 || response.status === 403
            ? 'EXTENTLOG_ERR_SOURCE_AUTH'
            : 'EXTENTLOG_ERR_SOURCE_API',
          `OpenStack ${method} ${url} answered ${response.status}: ${serviceMessage(text)}`,
          {
            details: { method, url, status: response.status },
            retriable: response.status >= 500 || response.status === 409,
          },
        );
      return text === '' ? ({} as T) : (JSON.parse(text) as T);
    }
  }

  async volumeAttachments(serverId: string): Promise<VolumeAttachment[]> {
    const body = await this.#call<{ volumeAttachments?: { volumeId: string; device?: string }[] }>(
      'compute',
      'GET',
      `/servers/${encodeURIComponent(serverId)}/os-volume_attachments`,
    );
    if (body === null)
      throw new SourceError(
        'EXTENTLOG_ERR_SOURCE_API',
        `Nova has no server ${serverId}: check the servers of the source`,
        { details: { serverId }, retriable: false },
      );
    return (body.volumeAttachments ?? []).map((entry) => ({
      volumeId: entry.volumeId,
      device: entry.device ?? null,
    }));
  }

  async volume(volumeId: string): Promise<CinderVolume | null> {
    const body = await this.#call<{ volume: { id: string; status: string; size: number } }>(
      'volume',
      'GET',
      `/volumes/${encodeURIComponent(volumeId)}`,
    );
    return body === null
      ? null
      : { id: body.volume.id, status: body.volume.status, sizeGiB: body.volume.size };
  }

  async createSnapshot(
    volumeId: string,
    name: string,
    description: string,
  ): Promise<CinderSnapshot> {
    const body = await this.#call<{ snapshot: RawSnapshot }>('volume', 'POST', '/snapshots', {
      snapshot: { volume_id: volumeId, force: true, name, description },
    });
    return snapshotOf(body!.snapshot);
  }

  async snapshot(snapshotId: string): Promise<CinderSnapshot | null> {
    const body = await this.#call<{ snapshot: RawSnapshot }>(
      'volume',
      'GET',
      `/snapshots/${encodeURIComponent(snapshotId)}`,
    );
    return body === null ? null : snapshotOf(body.snapshot);
  }

  /**
   * The snapshots of a volume (`GET /snapshots/detail?volume_id=`), every page: Cinder
   * returns at most `osapi_max_limit` per page and a `next` link while more remain; the
   * next page starts after the `marker`, the last id of the page before.
   */
  async snapshotsOf(volumeId: string): Promise<CinderSnapshot[]> {
    const all: CinderSnapshot[] = [];
    let marker: string | null = null;
    for (;;) {
      const query = new URLSearchParams({ volume_id: volumeId });
      if (marker !== null) query.set('marker', marker);
      const body = await this.#call<{
        snapshots?: RawSnapshot[];
        snapshots_links?: { rel: string; href: string }[];
      }>('volume', 'GET', `/snapshots/detail?${query}`);
      const page = (body?.snapshots ?? []).map(snapshotOf);
      all.push(...page);
      const more = (body?.snapshots_links ?? []).some((link) => link.rel === 'next');
      if (!more || page.length === 0) return all;
      marker = page[page.length - 1]!.id;
    }
  }

  /** Resolves false when the snapshot was already gone. */
  async deleteSnapshot(snapshotId: string): Promise<boolean> {
    const body = await this.#call<object>(
      'volume',
      'DELETE',
      `/snapshots/${encodeURIComponent(snapshotId)}`,
    );
    return body !== null;
  }
}

function snapshotOf(raw: RawSnapshot): CinderSnapshot {
  return { id: raw.id, volumeId: raw.volume_id, name: raw.name ?? '', status: raw.status };
}
