/**
 * An emulator of the OCI Core Services API (20160918) for the calls the OCI source makes,
 * written from Oracle's API reference: CreateVolumeGroupBackup, GetVolumeGroupBackup,
 * GetVolumeBackup, CreateVolume (sourceDetails volumeBackup / volumeBackupDelta), GetVolume,
 * DeleteVolume, AttachVolume (iscsi, useChap), GetVolumeAttachment, DetachVolume and
 * GetWorkRequest. Every request must carry a valid OCI signature for the test's key
 * (oci-signature-check.ts); errors come back as the service sends them —
 * `{"code", "message"}` with an `opc-request-id` header. Creates honour `opc-retry-token`.
 * CreateVolume, AttachVolume, DetachVolume and DeleteVolume answer with an
 * `opc-work-request-id`; backups are followed through their lifecycleState.
 *
 * Restored volumes are real tgtd LUNs (block-volume-store.ts), attached with CHAP.
 */
import { createPublicKey, randomUUID } from 'node:crypto';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import type { Tgtd } from '../../peers/tgtd.js';
import { keyFingerprint } from '../../../producers/oci/oci-request-signer.js';
import {
  BlockVolumeStore,
  OciServiceError,
  type EmulatedAttachment,
  type EmulatedBackup,
  type EmulatedGroupBackup,
  type EmulatedVolume,
  type EmulatedWorkRequest,
} from './block-volume-store.js';
import { checkOciSignature } from './oci-signature-check.js';

export interface OciEmulatorOptions {
  readonly tgtd: Tgtd;
  readonly dataDir: string;
  readonly tenancyId: string;
  readonly userId: string;
  readonly publicKeyPem: string;
  /** Reads before a resource settles (default 2); 0 settles at once. */
  readonly pollsToSettle?: number;
}

export interface RecordedCall {
  readonly method: string;
  readonly path: string;
  readonly status: number;
}

/** A fault for the next request whose method and path match: answered with `status` instead. */
export interface InjectedFault {
  readonly method: string;
  readonly path: RegExp;
  readonly status: number;
  readonly code: string;
  /** Run the operation first and lose its answer (as a dropped response would). */
  readonly afterHandling?: boolean;
}

export interface OciEmulator {
  readonly endpoint: string;
  readonly store: BlockVolumeStore;
  readonly calls: RecordedCall[];
  /** Consumed in order, one per matching request. */
  readonly faults: InjectedFault[];
  close(): Promise<void>;
}

const MiB = 1024 * 1024;

function sizes(sizeBytes: number) {
  return { sizeInMBs: Math.ceil(sizeBytes / MiB), sizeInGBs: Math.ceil(sizeBytes / (1024 * MiB)) };
}

function volumeJson(volume: EmulatedVolume) {
  return {
    id: volume.id,
    compartmentId: volume.compartmentId,
    availabilityDomain: volume.availabilityDomain,
    displayName: volume.displayName,
    lifecycleState: volume.lifecycleState,
    isHydrated: true,
    vpusPerGB: 10,
    ...sizes(volume.sizeBytes),
  };
}

function backupJson(backup: EmulatedBackup) {
  return {
    id: backup.id,
    volumeId: backup.volumeId,
    lifecycleState: backup.lifecycleState,
    type: backup.type,
    sourceType: 'MANUAL',
    timeCreated: backup.timeCreated,
    ...sizes(backup.sizeBytes),
  };
}

function groupBackupJson(backup: EmulatedGroupBackup) {
  return {
    id: backup.id,
    volumeGroupId: backup.volumeGroupId,
    volumeBackupIds: backup.volumeBackupIds,
    lifecycleState: backup.lifecycleState,
    type: backup.type,
    timeCreated: backup.timeCreated,
  };
}

function attachmentJson(attachment: EmulatedAttachment, port: number) {
  return {
    id: attachment.id,
    attachmentType: 'iscsi',
    instanceId: attachment.instanceId,
    volumeId: attachment.volumeId,
    lifecycleState: attachment.lifecycleState,
    ipv4: '127.0.0.1',
    port,
    iqn: attachment.iqn,
    chapUsername: attachment.chapUsername,
    chapSecret: attachment.chapSecret,
    isReadOnly: true,
  };
}

function workRequestJson(request: EmulatedWorkRequest) {
  return {
    id: request.id,
    operationType: request.operationType,
    status: request.status,
    percentComplete: request.status === 'SUCCEEDED' ? 100 : 50,
    resources: request.resources,
  };
}

export async function startOciEmulator(options: OciEmulatorOptions): Promise<OciEmulator> {
  const store = new BlockVolumeStore(options.dataDir, options.tgtd, options.pollsToSettle ?? 2);
  const publicKey = createPublicKey(options.publicKeyPem);
  const keyId = `${options.tenancyId}/${options.userId}/${keyFingerprint(publicKey)}`;
  const calls: RecordedCall[] = [];
  const faults: InjectedFault[] = [];
  const takeFault = (request: FastifyRequest, afterHandling: boolean) => {
    const index = faults.findIndex(
      (fault) =>
        fault.method === request.method &&
        fault.path.test(request.url) &&
        (fault.afterHandling ?? false) === afterHandling,
    );
    return index === -1 ? undefined : faults.splice(index, 1)[0];
  };
  const retried = new Map<
    string,
    { status: number; body: unknown; headers: Record<string, string> }
  >();
  const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) =>
    done(null, body),
  );

  app.addHook('onRequest', async (_request, reply) => {
    reply.header('opc-request-id', randomUUID().replaceAll('-', '').toUpperCase());
  });
  app.addHook('preHandler', async (request, reply) => {
    const problem = checkOciSignature(
      {
        method: request.method,
        target: request.raw.url ?? request.url,
        headers: request.headers,
        body: Buffer.isBuffer(request.body) ? request.body : undefined,
      },
      { keyId, publicKey, now: new Date() },
    );
    const fault = problem === null ? takeFault(request, false) : undefined;
    if (fault !== undefined)
      return reply.code(fault.status).send({ code: fault.code, message: 'injected fault' });
    if (problem !== null)
      return reply.code(401).send({
        code: 'NotAuthenticated',
        message: `The required information to complete authentication was not provided or was incorrect: ${problem}`,
      });
  });
  app.addHook('onSend', async (request, reply, payload) => {
    const fault = reply.statusCode < 300 ? takeFault(request, true) : undefined;
    if (fault === undefined) return payload;
    reply.code(fault.status);
    reply.removeHeader('opc-work-request-id');
    return JSON.stringify({ code: fault.code, message: 'injected fault after handling' });
  });
  app.addHook('onResponse', async (request, reply) => {
    calls.push({ method: request.method, path: request.url, status: reply.statusCode });
  });
  app.setErrorHandler((error, _request, reply) => {
    if (error instanceof OciServiceError)
      return reply.code(error.status).send({ code: error.code, message: error.message });
    return reply.code(500).send({ code: 'InternalServerError', message: (error as Error).message });
  });

  const body = <T>(request: FastifyRequest): T =>
    JSON.parse((request.body as Buffer).toString('utf8')) as T;
  /** Answers a create once per opc-retry-token: a retry gets the first answer again. */
  async function create(
    request: FastifyRequest,
    reply: FastifyReply,
    make: () => Promise<{ body: unknown; workRequest?: EmulatedWorkRequest }>,
  ) {
    const token = request.headers['opc-retry-token'];
    const key = typeof token === 'string' ? `${request.url} ${token}` : null;
    const previous = key === null ? undefined : retried.get(key);
    if (previous !== undefined)
      return reply.code(previous.status).headers(previous.headers).send(previous.body);
    const made = await make();
    const headers: Record<string, string> =
      made.workRequest === undefined ? {} : { 'opc-work-request-id': made.workRequest.id };
    if (key !== null) retried.set(key, { status: 200, body: made.body, headers });
    return reply.code(200).headers(headers).send(made.body);
  }
  const settleWith =
    (resource: { pendingPolls: number; lifecycleState: string; settlesAs: string }) => async () => {
      resource.pendingPolls = 0;
      resource.lifecycleState = resource.settlesAs;
    };

  const base = '/20160918';
  app.post(`${base}/volumeGroupBackups`, (request, reply) =>
    create(request, reply, async () => {
      const details = body<{ volumeGroupId: string; type?: 'FULL' | 'INCREMENTAL' }>(request);
      return {
        body: groupBackupJson(
          await store.createGroupBackup(details.volumeGroupId, details.type ?? 'INCREMENTAL'),
        ),
      };
    }),
  );
  app.get<{ Params: { id: string } }>(`${base}/volumeGroupBackups/:id`, async (request) =>
    groupBackupJson(store.poll(store.groupBackups.get(request.params.id), 'volume group backup')),
  );
  app.get<{ Params: { id: string } }>(`${base}/volumeBackups/:id`, async (request) =>
    backupJson(store.poll(store.backups.get(request.params.id), 'volume backup')),
  );
  app.post(`${base}/volumes`, (request, reply) =>
    create(request, reply, async () => {
      const volume = await store.restoreVolume(body(request));
      const workRequest = store.workRequest(
        'CreateVolume',
        { entityType: 'volume', actionType: 'CREATED', identifier: volume.id },
        settleWith(volume),
      );
      return { body: volumeJson(volume), workRequest };
    }),
  );
  app.get<{ Params: { id: string } }>(`${base}/volumes/:id`, async (request) =>
    volumeJson(store.poll(store.volumes.get(request.params.id), 'volume')),
  );
  app.delete<{ Params: { id: string } }>(`${base}/volumes/:id`, async (request, reply) => {
    const volume = await store.deleteVolume(request.params.id);
    const workRequest = store.workRequest(
      'DeleteVolume',
      { entityType: 'volume', actionType: 'DELETED', identifier: volume.id },
      settleWith(volume),
    );
    return reply.code(204).header('opc-work-request-id', workRequest.id).send();
  });
  app.post(`${base}/volumeAttachments`, (request, reply) =>
    create(request, reply, async () => {
      const details = body<{
        type: string;
        instanceId: string;
        volumeId: string;
        useChap?: boolean;
      }>(request);
      if (details.type !== 'iscsi' || details.useChap !== true)
        throw new OciServiceError(
          400,
          'InvalidParameter',
          'Only iscsi attachments with useChap are emulated.',
        );
      const attachment = await store.attach(details.instanceId, details.volumeId);
      const workRequest = store.workRequest(
        'AttachVolume',
        { entityType: 'volumeattachment', actionType: 'CREATED', identifier: attachment.id },
        settleWith(attachment),
      );
      return { body: attachmentJson(attachment, options.tgtd.port), workRequest };
    }),
  );
  app.get<{ Params: { id: string } }>(`${base}/volumeAttachments/:id`, async (request) =>
    attachmentJson(
      store.poll(store.attachments.get(request.params.id), 'volume attachment'),
      options.tgtd.port,
    ),
  );
  app.delete<{ Params: { id: string } }>(
    `${base}/volumeAttachments/:id`,
    async (request, reply) => {
      const attachment = await store.detach(request.params.id);
      const workRequest = store.workRequest(
        'DetachVolume',
        { entityType: 'volumeattachment', actionType: 'DELETED', identifier: attachment.id },
        settleWith(attachment),
      );
      return reply.code(204).header('opc-work-request-id', workRequest.id).send();
    },
  );
  app.get<{ Params: { id: string } }>(`${base}/workRequests/:id`, async (request) =>
    workRequestJson(await store.pollWorkRequest(request.params.id)),
  );

  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  return { endpoint: address, store, calls, faults, close: () => app.close() };
}
