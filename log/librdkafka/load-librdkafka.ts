/**
 * Loads the optional librdkafka client, @confluentinc/kafka-javascript, from its own
 * sub-package next to this file (`log/librdkafka/package.json` and its lockfile). It is
 * installed apart from extentlog's other dependencies because its install compiles the
 * bundled librdkafka (about 80 s and the Debian dev packages in
 * scripts/debian-packages.txt): `scripts/setup.sh --librdkafka` installs it, the test set-up
 * always does, and `npm ci` at the top and the demo never pay for it.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LogError } from '../errors.js';
import type { RdkafkaModule } from './rdkafka-api.js';

export const LIBRDKAFKA_PACKAGE = '@confluentinc/kafka-javascript';
export const LIBRDKAFKA_SETUP_COMMAND = 'scripts/setup.sh --librdkafka';

/** The sub-package's folder in the checkout (this module runs from dist/log/librdkafka/). */
export const librdkafkaPackageDir: string = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../log/librdkafka',
);

export type LibrdkafkaAvailability =
  | { readonly available: true; readonly module: RdkafkaModule }
  | { readonly available: false; readonly reason: string; readonly cause?: unknown };

const loaded = new Map<string, LibrdkafkaAvailability>();

/** Loads the package once per folder; says why when it is not there or does not load. */
export function librdkafkaAvailability(packageDir = librdkafkaPackageDir): LibrdkafkaAvailability {
  let availability = loaded.get(packageDir);
  if (availability === undefined) {
    availability = load(packageDir);
    loaded.set(packageDir, availability);
  }
  return availability;
}

function load(packageDir: string): LibrdkafkaAvailability {
  const manifest = path.join(packageDir, 'package.json');
  const installed = path.join(packageDir, 'node_modules', LIBRDKAFKA_PACKAGE);
  if (!existsSync(manifest) || !existsSync(installed)) {
    return { available: false, reason: `${LIBRDKAFKA_PACKAGE} is not installed in ${packageDir}` };
  }
  try {
    const require = createRequire(manifest);
    return { available: true, module: require(LIBRDKAFKA_PACKAGE) as RdkafkaModule };
  } catch (error) {
    // Installed but its native binding does not load (not built, or built for another Node.js).
    return {
      available: false,
      reason: `${LIBRDKAFKA_PACKAGE} in ${packageDir} does not load: ${(error as Error).message}`,
      cause: error,
    };
  }
}

/** The module, or a LogError naming the command that installs it. */
export function requireLibrdkafka(packageDir = librdkafkaPackageDir): RdkafkaModule {
  const availability = librdkafkaAvailability(packageDir);
  if (availability.available) return availability.module;
  throw new LogError(
    'EXTENTLOG_ERR_LOG_DRIVER_NOT_INSTALLED',
    `the librdkafka log driver was requested (logDriver: librdkafka) but ${availability.reason}; run ${LIBRDKAFKA_SETUP_COMMAND} (it needs the Debian packages build-essential libssl-dev zlib1g-dev libzstd-dev liblz4-dev libsasl2-dev libcurl4-openssl-dev), or choose logDriver: kafkajs`,
    {
      cause: availability.cause,
      details: { driver: 'librdkafka', packageDir },
    },
  );
}
