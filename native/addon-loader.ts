/**
 * Loading of the node-addon-api addons that scripts/build-native.sh builds, one per
 * native/<name>/binding.gyp, from the source tree (native/<name>/build/Release/) or next
 * to the compiled wrapper (dist/native/<name>/). An addon that does not load is not an
 * error until it is used: then NativeError EXTENTLOG_ERR_NATIVE_NOT_BUILT names the addon,
 * what needed it and how to build it.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NativeError } from './errors.js';

export interface AddonHandle<T> {
  readonly name: string;
  isAvailable(): boolean;
  /** The addon, or EXTENTLOG_ERR_NATIVE_NOT_BUILT naming `neededFor` and `fix`. */
  get(neededFor?: string): T;
}

/**
 * @param wrapperUrl `import.meta.url` of native/<name>/index.ts (or its build)
 * @param fix what to install or run, e.g. 'install libxxhash-dev, then run `npm run build:native`'
 */
export function loadAddon<T>(name: string, wrapperUrl: string, fix: string): AddonHandle<T> {
  const require = createRequire(wrapperUrl);
  const here = path.dirname(fileURLToPath(wrapperUrl));
  const candidates = [
    path.join(here, 'build', 'Release', `${name}.node`),
    path.resolve(here, '..', '..', '..', 'native', name, 'build', 'Release', `${name}.node`),
  ];
  let addon: T | null = null;
  let failure = '';
  for (const candidate of candidates) {
    try {
      addon = require(candidate) as T;
      break;
    } catch (error) {
      failure = error instanceof Error ? error.message : String(error);
    }
  }
  return {
    name,
    isAvailable: () => addon !== null,
    get(neededFor?: string): T {
      if (addon !== null) return addon;
      throw new NativeError(
        'EXTENTLOG_ERR_NATIVE_NOT_BUILT',
        `native addon '${name}' is not built${neededFor === undefined ? '' : ` (needed for ${neededFor})`}: ` +
          `${fix} (loading it said: ${failure})`,
        { details: { addon: name } },
      );
    },
  };
}
