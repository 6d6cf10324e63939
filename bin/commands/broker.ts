/**
 * `extentlog broker`: the embedded Kafka-compatible broker (and, once composed here, the
 * schema registry) as a standalone process. Prints its listening address on stdout and
 * stops cleanly on SIGTERM/SIGINT, closing the store so the next start skips recovery.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import process from 'node:process';
import { parseArgs } from 'node:util';
import { destination, pino } from 'pino';
import { LogError } from '../../log/errors.js';
import { startBroker, type BrokerOptions } from '../../log/broker/broker.js';
import {
  startSchemaRegistry,
  type RunningSchemaRegistry,
} from '../../log/registry/schema-registry.js';
import type { SaslUser } from '../../log/broker/sasl/sasl-authority.js';

const USAGE = `usage: extentlog broker --data-dir DIR [options]

options:
  --data-dir DIR          where topics, offsets and producer state live (required)
  --port N                listen port (default 9092; 0 picks a free one)
  --registry-port N       schema registry HTTP port on the same host (default 8081;
                          0 picks a free one; its data lives in DIR/schema-registry)
  --no-registry           run the broker alone
  --host H                listen address (default 127.0.0.1)
  --advertised-host H     host clients are told to connect to (default: the listen address)
  --advertised-port N     port clients are told to connect to (default: the listen port)
  --node-id N             broker id reported in metadata (default 0)
  --tls-cert FILE         PEM certificate; with --tls-key the listener speaks TLS only
  --tls-key FILE          PEM private key
  --sasl-users-file FILE  one 'user:password' per line; clients must then authenticate
                          (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)
  --partitions N          partitions of auto-created topics (default 1)
  --log-level LEVEL       trace, debug, info, warn, error (default info; logs go to stderr)`;

export async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        'data-dir': { type: 'string' },
        port: { type: 'string', default: '9092' },
        'registry-port': { type: 'string', default: '8081' },
        'no-registry': { type: 'boolean', default: false },
        host: { type: 'string', default: '127.0.0.1' },
        'advertised-host': { type: 'string' },
        'advertised-port': { type: 'string' },
        'node-id': { type: 'string', default: '0' },
        'tls-cert': { type: 'string' },
        'tls-key': { type: 'string' },
        'sasl-users-file': { type: 'string' },
        partitions: { type: 'string', default: '1' },
        'log-level': { type: 'string', default: 'info' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    process.stderr.write(`extentlog broker: ${(error as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  if (values.help === true) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const dataDir = values['data-dir'];
  if (dataDir === undefined) {
    process.stderr.write(`extentlog broker: --data-dir is required\n\n${USAGE}\n`);
    return 2;
  }
  const integers = {
    port: values.port,
    'registry-port': values['registry-port'],
    'node-id': values['node-id'],
    partitions: values.partitions,
    'advertised-port': values['advertised-port'],
  };
  for (const [name, value] of Object.entries(integers)) {
    if (value !== undefined && !/^\d+$/.test(value)) {
      process.stderr.write(
        `extentlog broker: --${name} expects a non-negative integer, received '${value}'\n`,
      );
      return 2;
    }
  }
  if ((values['tls-cert'] === undefined) !== (values['tls-key'] === undefined)) {
    process.stderr.write('extentlog broker: --tls-cert and --tls-key go together\n');
    return 2;
  }
  const logger = pino({ level: values['log-level'] }, destination(2));
  const options: BrokerOptions = {
    dataDir,
    host: values.host,
    port: Number(values.port),
    nodeId: Number(values['node-id']),
    defaultPartitions: Math.max(1, Number(values.partitions)),
    logger,
    ...(values['advertised-host'] === undefined
      ? {}
      : { advertisedHost: values['advertised-host'] }),
    ...(values['advertised-port'] === undefined
      ? {}
      : { advertisedPort: Number(values['advertised-port']) }),
    ...(values['tls-cert'] !== undefined && values['tls-key'] !== undefined
      ? { tls: { certFile: values['tls-cert'], keyFile: values['tls-key'] } }
      : {}),
    ...(values['sasl-users-file'] === undefined
      ? {}
      : { sasl: { users: await readUsers(values['sasl-users-file']) } }),
  };
  const broker = await startBroker(options);
  let registry: RunningSchemaRegistry | null = null;
  if (values['no-registry'] !== true) {
    try {
      registry = await startSchemaRegistry({
        dataDir: path.join(dataDir, 'schema-registry'),
        host: values.host,
        port: Number(values['registry-port']),
        logger,
      });
    } catch (error) {
      await broker.close();
      throw error;
    }
  }
  process.stdout.write(
    `extentlog broker listening on ${broker.host}:${broker.port} (data: ${dataDir})\n` +
      (registry === null ? '' : `extentlog schema registry listening on ${registry.url}\n`),
  );

  return new Promise<number>((resolve) => {
    const stop = (signal: string) => {
      logger.info({ signal }, 'stopping');
      (registry?.close() ?? Promise.resolve())
        .then(() => broker.close())
        .then(
          () => resolve(0),
          (error: unknown) => {
            logger.error({ error }, 'stopping the broker failed');
            resolve(1);
          },
        );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}

/** `user:password` per line; blank lines and `#` comments are skipped. */
async function readUsers(file: string): Promise<SaslUser[]> {
  const users: SaslUser[] = [];
  for (const line of (await readFile(file, 'utf8')).split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const at = trimmed.indexOf(':');
    if (at <= 0) {
      throw new LogError(
        'EXTENTLOG_ERR_LOG_BROKER_OPTIONS',
        `--sasl-users-file ${file}: expected 'user:password' lines, found a line without ':'`,
      );
    }
    users.push({ username: trimmed.slice(0, at), password: trimmed.slice(at + 1) });
  }
  return users;
}
