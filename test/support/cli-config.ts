/**
 * A sample disk and a configuration for the command tests: one image feed `vm1` with disk
 * `disk-0`, two file targets `mirror-a` and `mirror-b`, the embedded broker.
 */
import { truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'yaml';
import { patternBytes, writeAt } from './image-files.js';

const MiB = 1024 * 1024;

export interface CliSetup {
  readonly configPath: string;
  readonly sourcePath: string;
  readonly dataDir: string;
  imagePath(target: 'mirror-a' | 'mirror-b'): string;
}

export async function writeCliSetup(
  dir: string,
  options: { sizeMiB?: number; feed?: Record<string, unknown> } = {},
): Promise<CliSetup> {
  const sourcePath = path.join(dir, 'source.img');
  await writeFile(sourcePath, '');
  await truncate(sourcePath, (options.sizeMiB ?? 16) * MiB);
  await writeAt(sourcePath, 0, patternBytes(2 * MiB, 1));
  await writeAt(sourcePath, 5 * MiB + 4096, patternBytes(3 * MiB + 321, 2));
  const dataDir = path.join(dir, 'data');
  const configPath = path.join(dir, 'extentlog.yaml');
  await writeFile(
    configPath,
    stringify({
      dataDir,
      feeds: [
        {
          name: 'vm1',
          source: { type: 'image', disks: [{ id: 'disk-0', path: sourcePath }] },
          ...options.feed,
        },
      ],
      targets: ['mirror-a', 'mirror-b'].map((name) => ({
        type: 'file',
        name,
        feeds: ['vm1'],
        path: path.join(dir, name, '{feed}-{disk}.img'),
      })),
    }),
  );
  return {
    configPath,
    sourcePath,
    dataDir,
    imagePath: (target) => path.join(dir, target, 'vm1-disk-0.img'),
  };
}
