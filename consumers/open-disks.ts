/**
 * The disks a target has open, so that `Target.close()` can close whatever the replay engine
 * did not. `track` hands out the disk as the engine should see it: closing it also forgets it.
 */
import type { TargetDisk } from './target.js';

export class OpenDisks {
  private readonly disks = new Set<TargetDisk>();

  track(disk: TargetDisk): TargetDisk {
    this.disks.add(disk);
    return {
      beginEpoch: (begin) => disk.beginEpoch(begin),
      apply: (extent) => disk.apply(extent),
      flush: () => disk.flush(),
      commitEpoch: (commit) => disk.commitEpoch(commit),
      close: async () => {
        this.disks.delete(disk);
        await disk.close();
      },
    };
  }

  async closeAll(): Promise<void> {
    const disks = [...this.disks];
    this.disks.clear();
    await Promise.allSettled(disks.map((disk) => disk.close()));
  }
}
