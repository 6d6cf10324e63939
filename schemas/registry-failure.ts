/**
 * Translates failures of `@kafkajs/confluent-schema-registry` (its mappersmith
 * `ResponseError`: `status`, `url` "<method> <url>", message "<clientId> - <registry message>")
 * into SchemaErrors. The client reports a connection failure as status 400 with the socket
 * error in the message; the registry itself never answers 400 with a Node.js errno.
 */
import { describeError } from '../errors/extentlog-error.js';
import { SchemaError } from './errors.js';

interface ClientResponseError {
  readonly status?: unknown;
  readonly url?: unknown;
  readonly message?: unknown;
}

const NETWORK_FAILURE =
  /\b(ECONNREFUSED|ECONNRESET|ECONNABORTED|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|EPIPE|socket hang up|Timeout)\b/i;

export interface RegistryCall {
  /** What was asked, for the message: 'register subject x-value', 'fetch schema id 7'. */
  readonly action: string;
  readonly subject?: string;
  readonly schemaId?: number;
}

export function registryFailure(error: unknown, call: RegistryCall): SchemaError {
  const response = (
    typeof error === 'object' && error !== null ? error : {}
  ) as ClientResponseError;
  const status = typeof response.status === 'number' ? response.status : undefined;
  const url = typeof response.url === 'string' ? response.url : 'the schema registry';
  const registryMessage = describeError(error).replace(/^[^-]* - /, '');
  const details = { status, url, subject: call.subject, schemaId: call.schemaId };

  if (status === undefined || (status === 400 && NETWORK_FAILURE.test(registryMessage)))
    return new SchemaError(
      'EXTENTLOG_ERR_SCHEMA_REGISTRY_UNREACHABLE',
      `${call.action}: the schema registry did not answer (${url}): ${registryMessage}; check schemaRegistry.url and that the registry runs`,
      { cause: error, details },
    );
  if (status === 409)
    return new SchemaError(
      'EXTENTLOG_ERR_SCHEMA_INCOMPATIBLE',
      `${call.action}: the registry refused the schema for subject ${call.subject ?? '?'} as incompatible: ${registryMessage}`,
      { cause: error, details },
    );
  if (status === 404 && call.schemaId !== undefined)
    return new SchemaError(
      'EXTENTLOG_ERR_SCHEMA_UNKNOWN_SCHEMA_ID',
      `${call.action}: expected schema id ${call.schemaId} (bytes 1 … 4 of the frame) to be in the registry, received 404 from ${url}: ${registryMessage}; is the consumer using the producer's registry?`,
      { cause: error, details },
    );
  return new SchemaError(
    'EXTENTLOG_ERR_SCHEMA_REGISTRY_FAILED',
    `${call.action}: the registry answered ${status} (${url}): ${registryMessage}`,
    { cause: error, details, retriable: status >= 500 },
  );
}
