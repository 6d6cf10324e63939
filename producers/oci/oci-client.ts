/**
 * A client of the OCI Core Services API (version 20160918) for what the OCI source needs:
 *
 *   POST   /volumeGroupBackups            CreateVolumeGroupBackup   GET /volumeGroupBackups/{id}
 *   GET    /volumeBackups/{id}            GetVolumeBackup
 *   POST   /volumes                       CreateVolume (sourceDetails volumeBackup | volumeBackupDelta)
 *   GET    /volumes/{id}                  GetVolume                 DELETE /volumes/{id}
 *   POST   /volumeAttachments             AttachVolume (type iscsi)  GET /volumeAttachments/{id}
 *   DELETE /volumeAttachments/{id}        DetachVolume
 *   GET    /workRequests/{id}             GetWorkRequest
 *
 * JSON over HTTPS to a configurable endpoint (https://iaas.<region>.oraclecloud.com), every
 * request signed (oci-request-signer.ts). Creates carry an `opc-retry-token`, so a retried
 * create does not make a second resource. 429 and 5xx are retried with exponential back-off
 * (honouring retry-after); anything else is reported with the service's `code`, `message`
 * and `opc-request-id`. Long operations are awaited through their work request when the
 * service names one (`opc-work-request-id`), and through the resource's lifecycleState.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { describeError } from '../../errors/extentlog-error.js';
import { SourceError } from '../errors.js';
import type { OciRequestSigner } from './oci-request-signer.js';

export interface OciClientOptions {
  /** e.g. https://iaas.us-ashburn-1.oraclecloud.com (a path, if any, is kept as a prefix). */
  readonly endpoint: string;
  readonly signer: OciRequestSigner;
  /** Between polls of work requests and lifecycle states (default 2 s). */
  readonly pollIntervalMs?: number;
  /** How long a long operation may take (default 30 min). */
  readonly operationTimeoutMs?: number;
  /** Attempts for throttled (429) and failed (5xx) requests (default 6). */
  readonly maxAttempts?: number;
  readonly logger: Logger;
}

export interface VolumeGroupBackup {
  readonly id: string;
  readonly volumeGroupId: string;
  readonly lifecycleState: string;
  readonly type: string;
  readonly volumeBackupIds: readonly string[];
  readonly timeCreated?: string;
}

export interface VolumeBackup {
  readonly id: string;
  readonly volumeId: string;
  readonly lifecycleState: string;
  readonly type: string;
  readonly sizeInGBs?: number;
  readonly sizeInMBs?: number;
  readonly timeCreated?: string;
}

export interface Volume {
  readonly id: string;
  readonly lifecycleState: string;
  readonly availabilityDomain: string;
  readonly compartmentId: string;
  readonly displayName?: string;
  readonly sizeInGBs?: number;
  readonly sizeInMBs?: number;
}

export interface IscsiVolumeAttachment {
  readonly id: string;
  readonly attachmentType: string;
  readonly lifecycleState: string;
  readonly instanceId: string;
  readonly volumeId: string;
  readonly ipv4: string;
  readonly port: number;
  readonly iqn: string;
  readonly chapUsername?: string;
  readonly chapSecret?: string;
}

export interface WorkRequest {
  readonly id: string;
  readonly operationType: string;
  readonly status: string;
  readonly percentComplete?: number;
  readonly resources?: readonly { entityType: string; actionType: string; identifier: string }[];
}

export type VolumeSourceDetails =
  | { readonly type: 'volumeBackup'; readonly id: string }
  | {
      readonly type: 'volumeBackupDelta';
      readonly firstBackupId: string;
      readonly secondBackupId: string;
      readonly changeBlockSizeInBytes: number;
    };

interface Response<T> {
  readonly status: number;
  readonly body: T;
  readonly workRequestId: string | null;
}

const API_VERSION = '20160918';
const TERMINAL_FAILURES = ['FAILED', 'CANCELED', 'FAULTY', 'TERMINATED', 'TERMINATING'];

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The size of a volume or backup in bytes, from sizeInMBs or sizeInGBs. */
export function ociSizeBytes(resource: { sizeInMBs?: number; sizeInGBs?: number }): number {
  if (resource.sizeInMBs !== undefined) return resource.sizeInMBs * 1024 * 1024;
  return (resource.sizeInGBs ?? 0) * 1024 * 1024 * 1024;
}

export class OciClient {
  private readonly base: URL;
  private readonly pollIntervalMs: number;
  private readonly operationTimeoutMs: number;
  private readonly maxAttempts: number;

  constructor(private readonly options: OciClientOptions) {
    this.base = new URL(options.endpoint.endsWith('/') ? options.endpoint : `${options.endpoint}/`);
    this.pollIntervalMs = options.pollIntervalMs ?? 2_000;
    this.operationTimeoutMs = options.operationTimeoutMs ?? 30 * 60_000;
    this.maxAttempts = options.maxAttempts ?? 6;
  }

  createVolumeGroupBackup(details: {
    volumeGroupId: string;
    displayName: string;
    type: 'FULL' | 'INCREMENTAL';
  }): Promise<Response<VolumeGroupBackup>> {
    return this.request('POST', 'volumeGroupBackups', 'CreateVolumeGroupBackup', details);
  }

  async getVolumeGroupBackup(id: string): Promise<VolumeGroupBackup> {
    return (
      await this.request<VolumeGroupBackup>(
        'GET',
        `volumeGroupBackups/${id}`,
        'GetVolumeGroupBackup',
      )
    ).body;
  }

  async getVolumeBackup(id: string): Promise<VolumeBackup> {
    return (await this.request<VolumeBackup>('GET', `volumeBackups/${id}`, 'GetVolumeBackup')).body;
  }

  async getVolume(id: string): Promise<Volume> {
    return (await this.request<Volume>('GET', `volumes/${id}`, 'GetVolume')).body;
  }

  createVolume(details: {
    compartmentId: string;
    availabilityDomain: string;
    displayName: string;
    sourceDetails: VolumeSourceDetails;
  }): Promise<Response<Volume>> {
    return this.request('POST', 'volumes', 'CreateVolume', details);
  }

  deleteVolume(id: string): Promise<Response<unknown>> {
    return this.request('DELETE', `volumes/${id}`, 'DeleteVolume');
  }

  attachVolume(details: {
    instanceId: string;
    volumeId: string;
    displayName: string;
  }): Promise<Response<IscsiVolumeAttachment>> {
    return this.request('POST', 'volumeAttachments', 'AttachVolume', {
      type: 'iscsi',
      useChap: true,
      isReadOnly: true,
      ...details,
    });
  }

  async getVolumeAttachment(id: string): Promise<IscsiVolumeAttachment> {
    return (
      await this.request<IscsiVolumeAttachment>(
        'GET',
        `volumeAttachments/${id}`,
        'GetVolumeAttachment',
      )
    ).body;
  }

  detachVolume(id: string): Promise<Response<unknown>> {
    return this.request('DELETE', `volumeAttachments/${id}`, 'DetachVolume');
  }

  async getWorkRequest(id: string): Promise<WorkRequest> {
    return (await this.request<WorkRequest>('GET', `workRequests/${id}`, 'GetWorkRequest')).body;
  }

  /** Polls `get` until the resource is in one of `wanted`, failing on a terminal failure state. */
  async waitForState<T extends { id: string; lifecycleState: string }>(
    what: string,
    get: () => Promise<T>,
    wanted: readonly string[],
  ): Promise<T> {
    const deadlineMs = Date.now() + this.operationTimeoutMs;
    for (;;) {
      const resource = await get();
      if (wanted.includes(resource.lifecycleState)) return resource;
      if (
        TERMINAL_FAILURES.includes(resource.lifecycleState) &&
        !wanted.some((state) => TERMINAL_FAILURES.includes(state))
      )
        throw new SourceError(
          'EXTENTLOG_ERR_SOURCE_CLOUD_API',
          `OCI: ${what} ${resource.id} is ${resource.lifecycleState}, expected ${wanted.join(' or ')}`,
          { retriable: true, details: { resource: resource.id, state: resource.lifecycleState } },
        );
      if (Date.now() + this.pollIntervalMs > deadlineMs)
        throw this.timeout(what, resource.id, resource.lifecycleState);
      await sleep(this.pollIntervalMs);
    }
  }

  /** Polls a work request until it SUCCEEDED; FAILED or CANCELED is an error. */
  async waitForWorkRequest(what: string, id: string): Promise<WorkRequest> {
    const deadlineMs = Date.now() + this.operationTimeoutMs;
    for (;;) {
      const request = await this.getWorkRequest(id);
      if (request.status === 'SUCCEEDED') return request;
      if (request.status === 'FAILED' || request.status === 'CANCELED')
        throw new SourceError(
          'EXTENTLOG_ERR_SOURCE_CLOUD_API',
          `OCI: work request ${id} (${request.operationType}) for ${what} ended ${request.status}`,
          { retriable: true, details: { workRequestId: id, status: request.status } },
        );
      if (Date.now() + this.pollIntervalMs > deadlineMs)
        throw this.timeout(`work request for ${what}`, id, request.status);
      await sleep(this.pollIntervalMs);
    }
  }

  private timeout(what: string, id: string, state: string): SourceError {
    return new SourceError(
      'EXTENTLOG_ERR_SOURCE_CLOUD_TIMEOUT',
      `OCI: ${what} ${id} was still ${state} after ${this.operationTimeoutMs} ms`,
      { details: { resource: id, state, timeoutMs: this.operationTimeoutMs } },
    );
  }

  private async request<T>(
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    operation: string,
    body?: unknown,
  ): Promise<Response<T>> {
    const url = new URL(`${API_VERSION}/${path}`, this.base);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    // One token for every attempt of a create: the service returns the first resource again.
    const retryToken = method === 'POST' ? randomUUID().replaceAll('-', '') : undefined;
    let backoffMs = 250;
    for (let attempt = 1; ; attempt++) {
      const signed = this.options.signer.sign(method, url, payload, {
        accept: 'application/json',
        'opc-request-id': randomUUID().replaceAll('-', '').toUpperCase(),
        ...(retryToken === undefined ? {} : { 'opc-retry-token': retryToken }),
      });
      let response: globalThis.Response;
      try {
        response = await fetch(url, {
          method,
          headers: signed.headers,
          ...(payload === undefined ? {} : { body: payload }),
        });
      } catch (error) {
        if (attempt < this.maxAttempts) {
          await sleep(backoffMs);
          backoffMs *= 2;
          continue;
        }
        throw new SourceError(
          'EXTENTLOG_ERR_SOURCE_CLOUD_API',
          `OCI ${operation} (${method} ${url.pathname}): the endpoint ${this.base.origin} cannot be reached: ${describeError(error)}`,
          { cause: error, details: { operation, endpoint: this.base.origin } },
        );
      }
      const text = await response.text();
      if (response.ok)
        return {
          status: response.status,
          body: (text === '' ? undefined : JSON.parse(text)) as T,
          workRequestId: response.headers.get('opc-work-request-id'),
        };
      const retriable = response.status === 429 || response.status >= 500;
      if (retriable && attempt < this.maxAttempts) {
        const retryAfterMs = Number(response.headers.get('retry-after') ?? 0) * 1000;
        this.options.logger.debug(
          { operation, status: response.status, attempt },
          'OCI request throttled or failed; retrying',
        );
        await sleep(Math.max(backoffMs, retryAfterMs));
        backoffMs *= 2;
        continue;
      }
      throw this.failure(operation, method, url, response, text, retriable);
    }
  }

  private failure(
    operation: string,
    method: string,
    url: URL,
    response: globalThis.Response,
    text: string,
    retriable: boolean,
  ): SourceError {
    let code = '';
    let message = text.slice(0, 500);
    try {
      const parsed = JSON.parse(text) as { code?: string; message?: string };
      code = parsed.code ?? '';
      message = parsed.message ?? message;
    } catch {
      // not JSON: keep the text
    }
    const requestId = response.headers.get('opc-request-id') ?? 'none';
    const details = {
      operation,
      status: response.status,
      serviceCode: code,
      opcRequestId: requestId,
    };
    const what = `OCI ${operation} (${method} ${url.pathname}) failed with ${response.status} ${code}: ${message} (opc-request-id ${requestId})`;
    if (response.status === 401)
      return new SourceError(
        'EXTENTLOG_ERR_SOURCE_CLOUD_AUTH',
        `${what}; check tenancyId, userId, the key fingerprint and privateKeyFile, and the clock`,
        { details },
      );
    return new SourceError('EXTENTLOG_ERR_SOURCE_CLOUD_API', what, { retriable, details });
  }
}
