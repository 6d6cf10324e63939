/**
 * SaslHandshake and SaslAuthenticate (KIP-152). Handshake v0 switches the connection to
 * bare SASL tokens (handled by the router); v1 is followed by SaslAuthenticate requests.
 */
import { errorCode } from '../protocol/error-codes.js';
import {
  decodeSaslAuthenticateRequest,
  encodeSaslAuthenticateResponse,
} from '../protocol/sasl-authenticate.js';
import {
  decodeSaslHandshakeRequest,
  encodeSaslHandshakeResponse,
} from '../protocol/sasl-handshake.js';
import { SaslFailure, type SaslStep } from '../sasl/sasl-authority.js';
import type { ConnectionContext, RequestContext } from './request-context.js';

export function handleSaslHandshake({
  reader,
  writer,
  version,
  broker,
  connection,
}: RequestContext): void {
  const mechanism = decodeSaslHandshakeRequest(reader, version);
  const mechanisms = broker.sasl?.mechanisms() ?? [];
  if (broker.sasl === undefined || connection.authenticated || connection.sasl !== undefined) {
    encodeSaslHandshakeResponse(writer, version, {
      errorCode: errorCode('ILLEGAL_SASL_STATE'),
      mechanisms,
    });
    return;
  }
  const exchange = broker.sasl.start(mechanism);
  if (exchange === undefined) {
    encodeSaslHandshakeResponse(writer, version, {
      errorCode: errorCode('UNSUPPORTED_SASL_MECHANISM'),
      mechanisms,
    });
    return;
  }
  connection.sasl = exchange;
  connection.rawSaslTokens = version === 0;
  encodeSaslHandshakeResponse(writer, version, { errorCode: 0, mechanisms });
}

export function handleSaslAuthenticate({
  reader,
  writer,
  version,
  broker,
  connection,
}: RequestContext): void {
  const token = decodeSaslAuthenticateRequest(reader, version);
  if (connection.sasl === undefined || connection.authenticated) {
    encodeSaslAuthenticateResponse(writer, version, {
      errorCode: errorCode('ILLEGAL_SASL_STATE'),
      errorMessage: 'SaslAuthenticate without a SaslHandshake v1 first',
      authBytes: Buffer.alloc(0),
    });
    return;
  }
  const outcome = saslStep(connection, token, broker.logger);
  encodeSaslAuthenticateResponse(writer, version, {
    errorCode: outcome.ok ? 0 : errorCode('SASL_AUTHENTICATION_FAILED'),
    errorMessage: outcome.ok ? null : outcome.message,
    authBytes: outcome.ok ? outcome.step.response : Buffer.alloc(0),
  });
}

export type SaslOutcome =
  { readonly ok: true; readonly step: SaslStep } | { readonly ok: false; readonly message: string };

/** Feeds one token to the connection's exchange; a failure ends the exchange. */
export function saslStep(
  connection: ConnectionContext,
  token: Buffer,
  logger: RequestContext['broker']['logger'],
): SaslOutcome {
  const exchange = connection.sasl;
  if (exchange === undefined) return { ok: false, message: 'no SASL exchange in progress' };
  try {
    const step = exchange.step(token);
    if (step.done) {
      connection.authenticated = true;
      connection.rawSaslTokens = false;
      logger.info(
        { client: connection.clientAddress, mechanism: exchange.mechanism },
        'client authenticated',
      );
    }
    return { ok: true, step };
  } catch (error) {
    connection.sasl = undefined;
    if (!(error instanceof SaslFailure)) throw error;
    logger.warn(
      { client: connection.clientAddress, mechanism: exchange.mechanism, reason: error.message },
      'SASL authentication failed',
    );
    return { ok: false, message: error.message };
  }
}
