/**
 * The connection settings of `kafka-config.ts` as librdkafka configuration properties
 * (librdkafka CONFIGURATION.md: bootstrap.servers, security.protocol, sasl.*, ssl.*), and
 * librdkafka's log and error events routed to our logger.
 */
import type { Logger } from 'pino';
import { LogError } from '../errors.js';
import {
  resolveSasl,
  resolveTls,
  validateBrokers,
  type KafkaConnectionConfig,
  type SaslMechanism,
} from '../kafka-config.js';
import { LOG_DEFAULTS } from '../log-client-options.js';
import type { RdkafkaConfig, RdkafkaError, RdkafkaLogEvent } from './rdkafka-api.js';

const SASL_MECHANISMS: Readonly<Record<SaslMechanism, string>> = {
  plain: 'PLAIN',
  'scram-sha-256': 'SCRAM-SHA-256',
  'scram-sha-512': 'SCRAM-SHA-512',
};

/** Properties every librdkafka client of a connection shares. */
export function connectionProperties(connection: KafkaConnectionConfig): RdkafkaConfig {
  validateBrokers(connection.brokers);
  const requestTimeoutMs = connection.requestTimeoutMs ?? LOG_DEFAULTS.requestTimeoutMs;
  const properties: RdkafkaConfig = {
    'bootstrap.servers': connection.brokers.join(','),
    'client.id': connection.clientId,
    // librdkafka's floor for the connection set-up timeout is 1000 ms.
    'socket.connection.setup.timeout.ms': Math.max(
      1000,
      connection.connectionTimeoutMs ?? LOG_DEFAULTS.connectionTimeoutMs,
    ),
    'socket.timeout.ms': Math.max(10_000, requestTimeoutMs),
    'allow.auto.create.topics': false,
    'security.protocol': `${connection.sasl === undefined ? '' : 'sasl_'}${connection.tls === undefined ? 'plaintext' : 'ssl'}`,
  };
  if (connection.sasl !== undefined) {
    const sasl = resolveSasl(connection.sasl);
    properties['sasl.mechanisms'] = SASL_MECHANISMS[sasl.mechanism];
    properties['sasl.username'] = sasl.username;
    properties['sasl.password'] = sasl.password;
  }
  if (connection.tls !== undefined) {
    if (connection.tls.serverName !== undefined) {
      throw new LogError(
        'EXTENTLOG_ERR_LOG_CONFIG',
        `kafka.tls.serverName is '${connection.tls.serverName}', but the librdkafka driver verifies the broker's own host name and cannot override it: remove the setting or choose logDriver: kafkajs`,
        { details: { setting: 'kafka.tls.serverName' } },
      );
    }
    const tls = resolveTls(connection.tls);
    if (tls.ca !== undefined) properties['ssl.ca.pem'] = tls.ca;
    if (tls.cert !== undefined) properties['ssl.certificate.pem'] = tls.cert;
    if (tls.key !== undefined) properties['ssl.key.pem'] = tls.key;
    properties['enable.ssl.certificate.verification'] = tls.rejectUnauthorized;
    properties['ssl.endpoint.identification.algorithm'] = tls.rejectUnauthorized ? 'https' : 'none';
  }
  return properties;
}

interface LoggingClient {
  on(event: 'event.log', listener: (event: RdkafkaLogEvent) => void): unknown;
  on(event: 'event.error', listener: (error: RdkafkaError) => void): unknown;
}

/**
 * librdkafka logs with syslog severities; its error events are mostly transient (a broker
 * connection dropped and is retried), so they are warnings: failures that reach the caller
 * come back through delivery reports, consume and commit results.
 */
export function routeLogs(client: LoggingClient, logger: Logger): void {
  client.on('event.log', ({ severity, fac, message }) => {
    const fields = { librdkafka: fac };
    if (severity <= 3) logger.error(fields, message);
    else if (severity === 4) logger.warn(fields, message);
    else if (severity <= 6) logger.debug(fields, message);
    else logger.trace(fields, message);
  });
  client.on('event.error', (error) => {
    logger.warn({ librdkafka: 'ERROR', code: error.code }, error.message);
  });
}
