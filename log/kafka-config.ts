/**
 * How extentlog reaches a Kafka cluster: brokers, client id, SASL (PLAIN, SCRAM-SHA-256/512)
 * and TLS. Secrets are read from files named in the config, never from the config itself,
 * so that configs can be shared and logged.
 */
import { readFileSync } from 'node:fs';
import { LogError } from './errors.js';

export type SaslMechanism = 'plain' | 'scram-sha-256' | 'scram-sha-512';

export interface KafkaSaslConfig {
  readonly mechanism: SaslMechanism;
  readonly username: string;
  /** A file holding the password (trailing newline ignored). */
  readonly passwordFile: string;
}

export interface KafkaTlsConfig {
  /** PEM CA bundle to trust; the system store when absent. */
  readonly caFile?: string;
  /** Client certificate and key for mutual TLS. */
  readonly certFile?: string;
  readonly keyFile?: string;
  /** Server name to verify; defaults to the broker host. */
  readonly serverName?: string;
  readonly rejectUnauthorized?: boolean;
}

export interface KafkaConnectionConfig {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly sasl?: KafkaSaslConfig;
  readonly tls?: KafkaTlsConfig;
  readonly connectionTimeoutMs?: number;
  readonly requestTimeoutMs?: number;
}

export interface ResolvedSasl {
  readonly mechanism: SaslMechanism;
  readonly username: string;
  readonly password: string;
}

export interface ResolvedTls {
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly servername?: string;
  readonly rejectUnauthorized: boolean;
}

function readSecret(file: string, setting: string): string {
  try {
    return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (error) {
    throw new LogError(
      'EXTENTLOG_ERR_LOG_CONFIG',
      `cannot read ${setting} from ${file}: ${(error as Error).message}`,
      {
        cause: error,
        details: { setting, file },
      },
    );
  }
}

export function resolveSasl(sasl: KafkaSaslConfig): ResolvedSasl {
  return {
    mechanism: sasl.mechanism,
    username: sasl.username,
    password: readSecret(sasl.passwordFile, 'kafka.sasl.passwordFile'),
  };
}

export function resolveTls(tls: KafkaTlsConfig): ResolvedTls {
  return {
    ...(tls.caFile === undefined ? {} : { ca: readSecret(tls.caFile, 'kafka.tls.caFile') }),
    ...(tls.certFile === undefined ? {} : { cert: readSecret(tls.certFile, 'kafka.tls.certFile') }),
    ...(tls.keyFile === undefined ? {} : { key: readSecret(tls.keyFile, 'kafka.tls.keyFile') }),
    ...(tls.serverName === undefined ? {} : { servername: tls.serverName }),
    rejectUnauthorized: tls.rejectUnauthorized ?? true,
  };
}

/** Checks `host:port` broker addresses; throws naming the first bad one. */
export function validateBrokers(brokers: readonly string[]): void {
  if (brokers.length === 0) {
    throw new LogError(
      'EXTENTLOG_ERR_LOG_CONFIG',
      'kafka.brokers is empty: expected at least one host:port',
    );
  }
  for (const [index, broker] of brokers.entries()) {
    const match = /^(\[[0-9a-fA-F:.]+\]|[^:\s]+):(\d{1,5})$/.exec(broker);
    const port = match ? Number(match[2]) : NaN;
    if (!match || port < 1 || port > 65535) {
      throw new LogError(
        'EXTENTLOG_ERR_LOG_CONFIG',
        `kafka.brokers[${index}] is '${broker}': expected host:port with a port between 1 and 65535`,
        { details: { setting: `kafka.brokers[${index}]` } },
      );
    }
  }
}
