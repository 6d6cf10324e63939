/**
 * Routes each request frame to its API handler: decodes request header v1, checks the
 * version against the supported table and the connection's authentication, and frames the
 * response with response header v0. Anything it cannot decode becomes a `LogError` that
 * closes only this connection, with the client, API and byte position in the log.
 */
import { LogError } from '../../errors.js';
import { API_KEYS, apiRange, type ApiName } from '../protocol/api-versions-table.js';
import { ProtocolDecodeError, Reader } from '../protocol/reader.js';
import { decodeRequestHeader, type RequestHeader } from '../protocol/request-header.js';
import { Writer } from '../protocol/writer.js';
import type { ClientEndpoint, FrameHandler } from '../server.js';
import { handleApiVersions } from './api-versions.js';
import { handleDescribeConfigs } from './describe-configs.js';
import { handleFetch } from './fetch.js';
import {
  handleDeleteGroups,
  handleDescribeGroups,
  handleFindCoordinator,
  handleHeartbeat,
  handleJoinGroup,
  handleLeaveGroup,
  handleListGroups,
  handleOffsetCommit,
  handleOffsetFetch,
  handleSyncGroup,
} from './groups.js';
import { handleInitProducerId } from './init-producer-id.js';
import { handleListOffsets } from './list-offsets.js';
import { handleMetadata } from './metadata.js';
import { handleProduce } from './produce.js';
import type { ApiHandler, BrokerContext, ConnectionContext } from './request-context.js';
import { handleSaslAuthenticate, handleSaslHandshake, saslStep } from './sasl.js';
import { handleCreatePartitions, handleCreateTopics, handleDeleteTopics } from './topic-admin.js';

const HANDLERS: Record<ApiName, ApiHandler> = {
  Produce: handleProduce,
  Fetch: handleFetch,
  ListOffsets: handleListOffsets,
  Metadata: handleMetadata,
  OffsetCommit: handleOffsetCommit,
  OffsetFetch: handleOffsetFetch,
  FindCoordinator: handleFindCoordinator,
  JoinGroup: handleJoinGroup,
  Heartbeat: handleHeartbeat,
  LeaveGroup: handleLeaveGroup,
  SyncGroup: handleSyncGroup,
  DescribeGroups: handleDescribeGroups,
  ListGroups: handleListGroups,
  SaslHandshake: handleSaslHandshake,
  ApiVersions: handleApiVersions,
  CreateTopics: handleCreateTopics,
  DeleteTopics: handleDeleteTopics,
  InitProducerId: handleInitProducerId,
  DescribeConfigs: handleDescribeConfigs,
  SaslAuthenticate: handleSaslAuthenticate,
  CreatePartitions: handleCreatePartitions,
  DeleteGroups: handleDeleteGroups,
};

/** Requests a client may send before it has authenticated. */
const BEFORE_AUTHENTICATION: ReadonlySet<number> = new Set([
  API_KEYS.ApiVersions,
  API_KEYS.SaslHandshake,
  API_KEYS.SaslAuthenticate,
]);

export function createRequestRouter(broker: BrokerContext): FrameHandler<ConnectionContext> {
  return {
    openConnection: (endpoint: ClientEndpoint): ConnectionContext => ({
      ...endpoint,
      clientId: '',
      authenticated: broker.sasl === undefined,
      sasl: undefined,
      rawSaslTokens: false,
    }),
    handleFrame(frame, connection) {
      if (connection.rawSaslTokens) return rawSaslToken(broker, frame, connection);
      const reader = new Reader(frame);
      const header = decodeHeader(reader, connection);
      connection.clientId = header.clientId ?? '';
      const range = apiRange(header.apiKey);
      const isApiVersions = header.apiKey === API_KEYS.ApiVersions;
      if (
        range === undefined ||
        (!isApiVersions &&
          (header.apiVersion < range.minVersion || header.apiVersion > range.maxVersion))
      ) {
        throw new LogError(
          'EXTENTLOG_ERR_LOG_BROKER_UNSUPPORTED_REQUEST',
          `unsupported request from ${connection.clientAddress}: api key ${header.apiKey} version ${header.apiVersion}` +
            (range === undefined
              ? ' (unknown api key)'
              : ` (supported ${range.minVersion}..${range.maxVersion})`),
          {
            details: {
              apiKey: header.apiKey,
              apiVersion: header.apiVersion,
              clientId: header.clientId,
            },
          },
        );
      }
      if (!connection.authenticated && !BEFORE_AUTHENTICATION.has(header.apiKey)) {
        throw new LogError(
          'EXTENTLOG_ERR_LOG_BROKER_UNAUTHENTICATED_REQUEST',
          `${range.name} from ${connection.clientAddress} before SASL authentication: expected SaslHandshake`,
          {
            details: {
              apiKey: header.apiKey,
              apiVersion: header.apiVersion,
              clientId: header.clientId,
            },
          },
        );
      }
      broker.requestsByApi[range.name] = (broker.requestsByApi[range.name] ?? 0) + 1;
      const writer = Writer.response(header.correlationId);
      const context = { header, version: header.apiVersion, reader, writer, broker, connection };
      const failed = (error: unknown): never => {
        throw malformed(error, header, range.name, connection);
      };
      let result: ReturnType<ApiHandler>;
      try {
        result = HANDLERS[range.name](context);
      } catch (error) {
        return failed(error);
      }
      if (result instanceof Promise) {
        return result.then(
          (outcome) => (outcome === 'no-response' ? null : writer.frame()),
          failed,
        );
      }
      return writer.frame();
    },
  };
}

function decodeHeader(reader: Reader, connection: ConnectionContext): RequestHeader {
  try {
    return decodeRequestHeader(reader);
  } catch (error) {
    throw new LogError(
      'EXTENTLOG_ERR_LOG_BROKER_MALFORMED_REQUEST',
      `malformed request header from ${connection.clientAddress}: ${(error as Error).message}`,
      { cause: error, details: { frameBytes: reader.buffer.length } },
    );
  }
}

function malformed(
  error: unknown,
  header: RequestHeader,
  api: ApiName,
  connection: ConnectionContext,
): unknown {
  if (!(error instanceof ProtocolDecodeError)) return error;
  return new LogError(
    'EXTENTLOG_ERR_LOG_BROKER_MALFORMED_REQUEST',
    `malformed ${api} v${header.apiVersion} request from ${connection.clientAddress}: ${error.message}`,
    {
      cause: error,
      details: {
        apiKey: header.apiKey,
        apiVersion: header.apiVersion,
        clientId: header.clientId,
        positionBytes: error.positionBytes,
      },
    },
  );
}

/** After SaslHandshake v0: each frame is a bare token, answered with a bare token. */
function rawSaslToken(
  broker: BrokerContext,
  frame: Buffer,
  connection: ConnectionContext,
): Buffer[] {
  const outcome = saslStep(connection, frame, broker.logger);
  if (!outcome.ok) {
    throw new LogError(
      'EXTENTLOG_ERR_LOG_BROKER_UNAUTHENTICATED_REQUEST',
      `SASL authentication of ${connection.clientAddress} failed: ${outcome.message}`,
    );
  }
  const size = Buffer.allocUnsafe(4);
  size.writeInt32BE(outcome.step.response.length, 0);
  return [size, outcome.step.response];
}
