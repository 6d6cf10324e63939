/** Waiting until a running target announces a disk's restore point of at least an epoch. */
import type { Runtime } from '../../bin/runtime.js';
import type { RestorePoint } from '../../schemas/restore-point.js';
import { eventually } from './eventually.js';

export async function waitForRestorePoint(
  runtime: Runtime,
  target: string,
  disk: string,
  epoch: number,
  timeoutMs = 60_000,
): Promise<RestorePoint> {
  const replay = runtime.replays.get(target)!;
  return eventually(
    `${target} restore point of epoch ${epoch}`,
    () => {
      const status = replay.status().disks.find((entry) => entry.diskId === disk);
      if (status?.lastError) throw new Error(`${target}: ${status.lastError.message}`);
      return status?.lastRestorePoint !== null && (status?.lastRestorePoint?.epoch ?? 0) >= epoch
        ? status!.lastRestorePoint!
        : undefined;
    },
    timeoutMs,
  );
}
