/**
 * An emulator of the OpenStack API subset the RBD source uses, written from the public API
 * references: Identity v3 password authentication (`POST /v3/auth/tokens`: 201, the token in
 * `X-Subject-Token`, the service catalog in the body; 401 `{"error": …}` otherwise), Compute
 * 2.1 `GET /servers/{id}/os-volume_attachments`, and Block Storage v3 volumes and snapshots
 * (`GET /volumes/{id}`; `POST /snapshots` → 202 `creating`, refused with 400 for an in-use
 * volume unless `force`; `GET /snapshots/detail?volume_id=` paged by `limit`/`marker` with
 * `snapshots_links`; `GET` and
 * `DELETE /snapshots/{id}`). Errors use the services' bodies
 * (`{"itemNotFound": {"code": 404, "message": …}}`, `{"badRequest": …}`).
 *
 * Snapshots are real: like Cinder's RBD driver (cinder/volume/drivers/rbd.py), creating one
 * makes and protects RBD snapshot `snapshot-<id>` of image `volume-<volume id>` in the
 * volumes pool, and deleting one unprotects and removes it — on the test's Ceph cluster,
 * through the `rbd` command. Both happen after the API answered, as in Cinder, so clients
 * must poll the snapshot's status.
 */
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';

export interface EmulatedUser {
  readonly name: string;
  readonly domain: string;
  readonly password: string;
  readonly project: string;
}

/** What the emulator runs on the cluster, e.g. `rbd snap create pool/image@snap`. */
export type RbdCommand = (args: readonly string[]) => Promise<unknown>;

export interface OpenStackEmulator {
  /** Keystone's v3 endpoint for `authUrl`. */
  readonly authUrl: string;
  readonly projectId: string;
  addServer(serverId: string, volumes: readonly { id: string; sizeGiB: number }[]): void;
  /** Cinder's snapshots of a volume, as its API lists them. */
  snapshotsOf(volumeId: string): { id: string; status: string }[];
  /** Invalidates every token (as a token expiry or revocation would). */
  revokeTokens(): void;
  /** Requests per method and route, e.g. 'POST /snapshots'. */
  readonly calls: Map<string, number>;
  close(): Promise<void>;
}

/** The body of `POST /v3/auth/tokens` with the password method and a project scope. */
interface AuthBody {
  auth?: {
    identity?: {
      methods?: string[];
      password?: { user?: { name?: string; domain?: { name?: string }; password?: string } };
    };
    scope?: { project?: { name?: string; domain?: { name?: string } } };
  };
}

interface Volume {
  id: string;
  sizeGiB: number;
  status: 'available' | 'in-use';
  serverId: string | null;
}

interface Snapshot {
  id: string;
  volumeId: string;
  name: string;
  description: string;
  status: 'creating' | 'available' | 'deleting' | 'error';
  createdAt: string;
}

function fault(reply: FastifyReply, status: number, kind: string, message: string) {
  return reply.code(status).send({ [kind]: { code: status, message } });
}

export async function startOpenStackEmulator(options: {
  readonly user: EmulatedUser;
  readonly pool: string;
  readonly rbd: RbdCommand;
  /** Most snapshots in one list page (Cinder's `osapi_max_limit`, 1000 by default). */
  readonly maxPageSize?: number;
}): Promise<OpenStackEmulator> {
  const { user, pool, rbd } = options;
  const maxPageSize = options.maxPageSize ?? 1000;
  const projectId = randomUUID().replaceAll('-', '');
  const tokens = new Set<string>();
  const servers = new Map<string, string[]>();
  const volumes = new Map<string, Volume>();
  const snapshots = new Map<string, Snapshot>();
  const calls = new Map<string, number>();
  const app: FastifyInstance = Fastify({ logger: false });
  let base = '';

  const count = (route: string) => calls.set(route, (calls.get(route) ?? 0) + 1);
  const authorized = (token: unknown) => typeof token === 'string' && tokens.has(token);
  app.addHook('onRequest', async (request, reply) => {
    if (request.url.startsWith('/identity/')) return;
    if (!authorized(request.headers['x-auth-token']))
      return reply.code(401).send({
        error: {
          code: 401,
          message: 'The request you have made requires authentication.',
          title: 'Unauthorized',
        },
      });
  });

  app.post('/identity/v3/auth/tokens', async (request, reply) => {
    count('POST /auth/tokens');
    const auth = (request.body as AuthBody | null)?.auth;
    const password = auth?.identity?.password?.user;
    const project = auth?.scope?.project;
    if (
      !auth?.identity?.methods?.includes('password') ||
      password?.name !== user.name ||
      password?.domain?.name !== user.domain ||
      password?.password !== user.password ||
      project?.name !== user.project ||
      project?.domain?.name !== user.domain
    )
      return reply.code(401).send({
        error: {
          code: 401,
          message: 'The request you have made requires authentication.',
          title: 'Unauthorized',
        },
      });
    const token = randomUUID().replaceAll('-', '');
    tokens.add(token);
    const endpoint = (type: string, name: string, url: string) => ({
      type,
      name,
      id: randomUUID(),
      endpoints: ['public', 'internal', 'admin'].map((iface) => ({
        id: randomUUID(),
        interface: iface,
        region: 'RegionOne',
        region_id: 'RegionOne',
        url,
      })),
    });
    const now = new Date();
    return reply
      .code(201)
      .header('x-subject-token', token)
      .send({
        token: {
          methods: ['password'],
          user: { id: randomUUID(), name: user.name, domain: { id: 'default', name: user.domain } },
          project: {
            id: projectId,
            name: user.project,
            domain: { id: 'default', name: user.domain },
          },
          issued_at: now.toISOString(),
          expires_at: new Date(now.getTime() + 3600_000).toISOString(),
          catalog: [
            endpoint('identity', 'keystone', `${base}/identity/v3`),
            endpoint('compute', 'nova', `${base}/compute/v2.1`),
            endpoint('volumev3', 'cinderv3', `${base}/volume/v3/${projectId}`),
          ],
        },
      });
  });

  app.get('/compute/v2.1/servers/:id/os-volume_attachments', async (request, reply) => {
    count('GET /os-volume_attachments');
    const { id } = request.params as { id: string };
    const attached = servers.get(id);
    if (attached === undefined)
      return fault(reply, 404, 'itemNotFound', `Instance ${id} could not be found.`);
    return {
      volumeAttachments: attached.map((volumeId, index) => ({
        id: volumeId,
        serverId: id,
        volumeId,
        device: `/dev/vd${String.fromCharCode(98 + index)}`,
      })),
    };
  });

  app.get('/volume/v3/:project/volumes/:id', async (request, reply) => {
    count('GET /volumes');
    const { id } = request.params as { id: string };
    const volume = volumes.get(id);
    if (volume === undefined)
      return fault(reply, 404, 'itemNotFound', `Volume ${id} could not be found.`);
    return {
      volume: {
        id: volume.id,
        size: volume.sizeGiB,
        status: volume.status,
        attachments:
          volume.serverId === null ? [] : [{ server_id: volume.serverId, volume_id: volume.id }],
      },
    };
  });

  const snapshotBody = (snapshot: Snapshot) => ({
    snapshot: {
      id: snapshot.id,
      volume_id: snapshot.volumeId,
      name: snapshot.name,
      description: snapshot.description,
      status: snapshot.status,
      size: volumes.get(snapshot.volumeId)?.sizeGiB ?? 0,
      created_at: snapshot.createdAt,
    },
  });

  app.post('/volume/v3/:project/snapshots', async (request, reply) => {
    count('POST /snapshots');
    const body = (request.body as { snapshot?: Record<string, unknown> } | null)?.snapshot;
    const volumeId = body?.volume_id;
    const volume = typeof volumeId === 'string' ? volumes.get(volumeId) : undefined;
    if (volume === undefined)
      return fault(reply, 404, 'itemNotFound', `Volume ${String(volumeId)} could not be found.`);
    const force = body?.force === true || body?.force === 'true' || body?.force === 'True';
    if (volume.status === 'in-use' && !force)
      return fault(
        reply,
        400,
        'badRequest',
        `Invalid volume: Volume ${volume.id} status must be available, but current status is: in-use.`,
      );
    const snapshot: Snapshot = {
      id: randomUUID(),
      volumeId: volume.id,
      name: typeof body?.name === 'string' ? body.name : '',
      description: typeof body?.description === 'string' ? body.description : '',
      status: 'creating',
      createdAt: new Date().toISOString(),
    };
    snapshots.set(snapshot.id, snapshot);
    const spec = `${pool}/volume-${volume.id}@snapshot-${snapshot.id}`;
    void rbd(['snap', 'create', spec])
      .then(() => rbd(['snap', 'protect', spec]))
      .then(
        () => {
          snapshot.status = 'available';
        },
        () => {
          snapshot.status = 'error';
        },
      );
    return reply.code(202).send(snapshotBody(snapshot));
  });

  app.get('/volume/v3/:project/snapshots/detail', async (request, reply) => {
    count('GET /snapshots/detail');
    const query = request.query as { volume_id?: string; limit?: string; marker?: string };
    const matching = [...snapshots.values()].filter(
      (snapshot) => query.volume_id === undefined || snapshot.volumeId === query.volume_id,
    );
    // Paged as Cinder pages: `limit` (capped), `marker` = the last id of the previous page,
    // and a `next` link while more remain.
    const from =
      query.marker === undefined
        ? 0
        : matching.findIndex((snapshot) => snapshot.id === query.marker) + 1;
    if (query.marker !== undefined && from === 0)
      return fault(reply, 400, 'badRequest', `Marker ${query.marker} could not be found.`);
    const limit = Math.min(Number(query.limit ?? maxPageSize) || maxPageSize, maxPageSize);
    const page = matching.slice(from, from + limit);
    const next = new URLSearchParams({
      ...(query.volume_id === undefined ? {} : { volume_id: query.volume_id }),
      limit: String(limit),
      marker: page.at(-1)?.id ?? '',
    });
    return {
      snapshots: page.map((snapshot) => snapshotBody(snapshot).snapshot),
      ...(from + limit < matching.length
        ? {
            snapshots_links: [{ rel: 'next', href: `${base}${request.url.split('?')[0]}?${next}` }],
          }
        : {}),
    };
  });

  app.get('/volume/v3/:project/snapshots/:id', async (request, reply) => {
    count('GET /snapshots');
    const { id } = request.params as { id: string };
    const snapshot = snapshots.get(id);
    if (snapshot === undefined)
      return fault(reply, 404, 'itemNotFound', `Snapshot ${id} could not be found.`);
    return snapshotBody(snapshot);
  });

  app.delete('/volume/v3/:project/snapshots/:id', async (request, reply) => {
    count('DELETE /snapshots');
    const { id } = request.params as { id: string };
    const snapshot = snapshots.get(id);
    if (snapshot === undefined)
      return fault(reply, 404, 'itemNotFound', `Snapshot ${id} could not be found.`);
    if (snapshot.status !== 'available' && snapshot.status !== 'error')
      return fault(
        reply,
        400,
        'badRequest',
        `Invalid snapshot: Snapshot status must be available or error and must not be part of a group.`,
      );
    // A snapshot in `error` may have no RBD snapshot behind it; the driver ignores that.
    const failed = snapshot.status === 'error';
    snapshot.status = 'deleting';
    const spec = `${pool}/volume-${snapshot.volumeId}@snapshot-${snapshot.id}`;
    void rbd(['snap', 'unprotect', spec])
      .catch(() => undefined)
      .then(() => rbd(['snap', 'rm', spec]))
      .then(
        () => snapshots.delete(snapshot.id),
        () => {
          if (failed) snapshots.delete(snapshot.id);
          else snapshot.status = 'error';
        },
      );
    return reply.code(202).send();
  });

  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  base = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
  return {
    authUrl: `${base}/identity/v3`,
    projectId,
    addServer(serverId, attached) {
      servers.set(
        serverId,
        attached.map((volume) => volume.id),
      );
      for (const volume of attached)
        volumes.set(volume.id, {
          id: volume.id,
          sizeGiB: volume.sizeGiB,
          status: 'in-use',
          serverId,
        });
    },
    snapshotsOf: (volumeId) =>
      [...snapshots.values()]
        .filter((snapshot) => snapshot.volumeId === volumeId)
        .map(({ id, status }) => ({ id, status })),
    revokeTokens: () => tokens.clear(),
    calls,
    close: () => app.close(),
  };
}
