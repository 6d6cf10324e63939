/**
 * Loop devices for tests (util-linux losetup, as root): attach an image file, detach by the
 * device name it was given. Callers detach in an `after` hook.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface LoopDevice {
  readonly device: string;
  detach(): Promise<void>;
}

export async function attachLoopDevice(imagePath: string): Promise<LoopDevice> {
  const { stdout } = await run('losetup', ['--find', '--show', imagePath]);
  const device = stdout.trim();
  let attached = true;
  return {
    device,
    async detach() {
      if (!attached) return;
      attached = false;
      await run('losetup', ['--detach', device]);
    },
  };
}
