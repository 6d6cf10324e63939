/**
 * An emulator of the AWS APIs the EBS source and target use — the EBS direct APIs
 * (ebs-direct-api.ts) and EC2's snapshot and volume calls (ec2-query-api.ts) — on one HTTP
 * server on 127.0.0.1, so the unmodified AWS SDK clients talk to it with only an endpoint
 * override. Every request must carry a valid SigV4 signature for the emulator's credentials
 * (sigv4-verifier.ts). Storage is files (snapshot-store.ts). Tests steer it: volumes to
 * write into, faults to inject (faults.ts), an expired session token, snapshots deleted
 * behind the client's back; and read what happened: every request with its time, API,
 * operation and status.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { ApiError, type ApiResponse } from './api-error.js';
import { ebsOperation, handleEbs } from './ebs-direct-api.js';
import { ec2ErrorBody, handleEc2 } from './ec2-query-api.js';
import { Faults, type FaultPlan } from './faults.js';
import { SnapshotStore, type Snapshot, type Volume } from './snapshot-store.js';
import { verifySigV4, type EmulatorCredentials } from './sigv4-verifier.js';
import { TokenMint } from './tokens.js';

export interface EmulatorOptions {
  /** Where volumes and block contents live (the caller removes it). */
  readonly dir: string;
  readonly credentials?: EmulatorCredentials;
  readonly region?: string;
  readonly blockTokenTtlMs?: number;
  /** DescribeSnapshots calls of a snapshot before it shows completed (default 2). */
  readonly describesUntilCompleted?: number;
  /** Added to every answer: the round trip of a real region, for benchmarks (default 0). */
  readonly latencyMs?: number;
}

export interface RecordedRequest {
  /** performance.now() when the request arrived. */
  readonly atMs: number;
  readonly api: 'ebs' | 'ec2';
  operation: string;
  status: number;
  errorCode: string | null;
}

export interface AwsEbsEmulator {
  readonly endpoint: string;
  readonly region: string;
  readonly credentials: EmulatorCredentials;
  readonly requests: RecordedRequest[];
  readonly faults: Faults;
  addVolume(options: {
    sizeGiB: number;
    volumeId?: string;
    instanceId?: string;
    device?: string;
  }): Promise<Volume>;
  setFaults(plan: FaultPlan): void;
  expireSessionToken(expired?: boolean): void;
  /** Makes block tokens handed out from now on expire after `ttlMs`. */
  setBlockTokenTtl(ttlMs: number): void;
  snapshot(snapshotId: string): Snapshot | undefined;
  snapshots(): Snapshot[];
  /** Deletes a snapshot as an operator would (not through the API). */
  deleteSnapshot(snapshotId: string): void;
  close(): Promise<void>;
}

export const TEST_CREDENTIALS: EmulatorCredentials = {
  accessKeyId: 'AKIAEXTENTLOGTEST01',
  secretAccessKey: 'extentlog/emulator/secret/key/0000000000',
  sessionToken: 'extentlog-emulator-session-token',
};

const OWNER_ID = '111122223333';
const MAX_BODY_BYTES = 8 * 1024 * 1024;

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of request) {
    total += (chunk as Buffer).length;
    if (total > MAX_BODY_BYTES)
      throw new ApiError(413, 'RequestEntityTooLarge', 'The body is too large.');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export async function startAwsEbsEmulator(options: EmulatorOptions): Promise<AwsEbsEmulator> {
  const credentials = options.credentials ?? TEST_CREDENTIALS;
  const region = options.region ?? 'us-east-1';
  let blockTokenTtlMs = options.blockTokenTtlMs ?? 60 * 60 * 1000;
  let sessionTokenExpired = false;
  const latencyMs = options.latencyMs ?? 0;
  const store = new SnapshotStore(options.dir, options.describesUntilCompleted ?? 2);
  await store.init();
  const mint = new TokenMint();
  const faults = new Faults();
  const requests: RecordedRequest[] = [];

  function send(response: ServerResponse, answer: ApiResponse, requestId: string): void {
    response.writeHead(answer.status, { 'x-amzn-RequestId': requestId, ...answer.headers });
    response.end(answer.body);
  }

  function errorAnswer(api: 'ebs' | 'ec2', error: ApiError, requestId: string): ApiResponse {
    if (api === 'ebs')
      return {
        status: error.status,
        headers: { 'content-type': 'application/json', 'x-amzn-ErrorType': error.code },
        body: JSON.stringify({
          message: error.message,
          ...(error.reason === undefined ? {} : { Reason: error.reason }),
        }),
      };
    const code = EC2_AUTH_CODES[error.code] ?? error.code;
    return {
      status: error.status,
      headers: { 'content-type': 'text/xml;charset=UTF-8' },
      body: ec2ErrorBody(code, error.message, requestId),
    };
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const atMs = performance.now();
    const requestId = randomUUID();
    const rawUrl = request.url ?? '/';
    const url = new URL(rawUrl, 'http://emulator');
    const isEc2 = request.method === 'POST' && url.pathname === '/';
    const api = isEc2 ? 'ec2' : 'ebs';
    const segments = url.pathname
      .split('/')
      .filter((segment) => segment !== '')
      .map(decodeURIComponent);
    const record: RecordedRequest = {
      atMs,
      api,
      operation: isEc2 ? '?' : (ebsOperation(request.method ?? '', segments) ?? '?'),
      status: 0,
      errorCode: null,
    };
    requests.push(record);
    let answer: ApiResponse;
    try {
      const body = await readBody(request);
      const params = isEc2 ? new URLSearchParams(body.toString('utf8')) : null;
      if (params !== null) record.operation = params.get('Action') ?? '?';
      const failure = verifySigV4(
        { method: request.method ?? 'GET', rawUrl, headers: request.headers, body },
        { credentials, service: api, region, nowMs: Date.now(), sessionTokenExpired },
      );
      if (failure !== null) throw new ApiError(failure.status, failure.code, failure.message);
      const fault = faults.nextRequest();
      if (fault === 'throttle')
        throw isEc2
          ? new ApiError(503, 'RequestLimitExceeded', 'Request limit exceeded.')
          : faults.injected.throttle % 2 === 0
            ? new ApiError(
                400,
                'RequestThrottledException',
                'Request throttled.',
                'ACCOUNT_THROTTLED',
              )
            : new ApiError(400, 'ThrottlingException', 'Rate exceeded');
      if (fault === 'unavailable')
        throw new ApiError(
          503,
          isEc2 ? 'Unavailable' : 'ServiceUnavailableException',
          'Service Unavailable',
        );
      answer =
        params !== null
          ? await handleEc2(
              { store, ownerId: OWNER_ID, requestId, availabilityZone: `${region}a` },
              params,
            )
          : await handleEbs(
              { store, mint, faults, ownerId: OWNER_ID, blockTokenTtlMs, nowMs: Date.now() },
              {
                method: request.method ?? 'GET',
                segments,
                query: url.searchParams,
                headers: request.headers,
                body,
              },
            );
    } catch (error) {
      const apiError =
        error instanceof ApiError
          ? error
          : new ApiError(
              500,
              isEc2 ? 'InternalError' : 'InternalServerException',
              (error as Error).message,
            );
      record.errorCode = apiError.code;
      answer = errorAnswer(api, apiError, requestId);
    }
    record.status = answer.status;
    if (latencyMs > 0) await delay(latencyMs);
    send(response, answer, requestId);
  }

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      response.destroy(error as Error);
    });
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    region,
    credentials,
    requests,
    faults,
    addVolume: (volume) => store.addVolume(volume),
    setFaults: (plan) => faults.set(plan),
    expireSessionToken: (expired = true) => {
      sessionTokenExpired = expired;
    },
    setBlockTokenTtl: (ttlMs) => {
      blockTokenTtlMs = ttlMs;
    },
    snapshot: (snapshotId) => store.snapshots.get(snapshotId),
    snapshots: () => [...store.snapshots.values()],
    deleteSnapshot: (snapshotId) => {
      store.snapshots.delete(snapshotId);
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

/**
 * The codes EC2's Query API uses for signature failures where they differ from REST-JSON's
 * (an expired session token is ExpiredTokenException in both; EC2 API reference, "Common
 * Error Types").
 */
const EC2_AUTH_CODES: Readonly<Record<string, string>> = {
  MissingAuthenticationTokenException: 'MissingAuthenticationToken',
  IncompleteSignatureException: 'IncompleteSignature',
  UnrecognizedClientException: 'AuthFailure',
  InvalidSignatureException: 'AuthFailure',
};
