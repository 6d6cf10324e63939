/**
 * Loads a node-addon-api addon built by `npm run build:native` (native/<name>/build/Release/),
 * from the source tree (native/<name>/) or from the TypeScript build (dist/native/<name>/).
 * A missing or broken build is not an error here: the wrapper reports it, naming the system
 * package to install, when a feature that needs the addon is used.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface LoadedAddon<T> {
  readonly addon: T | null;
  /** Why loading failed (empty when it loaded). */
  readonly failure: string;
}

/** `wrapperUrl` is the wrapper's `import.meta.url` (native/<name>/index.ts or its build). */
export function loadAddon<T>(name: string, wrapperUrl: string): LoadedAddon<T> {
  const require = createRequire(wrapperUrl);
  const here = path.dirname(fileURLToPath(wrapperUrl));
  const candidates = [
    path.join(here, 'build', 'Release', `${name}.node`),
    path.resolve(here, '..', '..', '..', 'native', name, 'build', 'Release', `${name}.node`),
  ];
  let failure = '';
  for (const candidate of candidates) {
    try {
      return { addon: require(candidate) as T, failure: '' };
    } catch (error) {
      failure = error instanceof Error ? error.message : String(error);
    }
  }
  return { addon: null, failure };
}
