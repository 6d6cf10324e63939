/**
 * How the RBD source gets its point-in-time views: something that lists the volumes to
 * protect and takes and removes RBD snapshots of them. Two implementations: the source's own
 * RBD snapshots for pools and images named directly (direct-snapshots.ts), and Cinder
 * snapshots through the OpenStack API, which Cinder's RBD driver makes as RBD snapshots
 * (cinder-snapshots.ts).
 */

/** An RBD image the source protects; `diskId` is the record key. */
export interface RbdVolume {
  readonly diskId: string;
  readonly pool: string;
  readonly image: string;
}

export interface RbdSnapshots {
  /** 'rbd' (the source's own snapshots) or 'cinder'. */
  readonly kind: string;
  volumes(): Promise<readonly RbdVolume[]>;
  /** Takes a crash-consistent snapshot; resolves the RBD snapshot's name once it exists. */
  create(volume: RbdVolume): Promise<string>;
  /** Removes a snapshot this provider took; a snapshot already gone is not an error. */
  remove(volume: RbdVolume, snapName: string): Promise<void>;
  /**
   * This provider's snapshots of the volume other than `keep` (RBD snapshot names): the
   * leftovers of cycles that crashed before they committed or aborted.
   */
  leftovers(
    volume: RbdVolume,
    rbdSnapNames: readonly string[],
    keep: readonly string[],
  ): Promise<string[]>;
}

/** The source reference of a cycle: the RBD snapshot it read, `rbd:<pool>/<image>@<snap>`. */
export function formatReference(volume: RbdVolume, snapName: string): string {
  return `rbd:${volume.pool}/${volume.image}@${snapName}`;
}

export function parseReference(
  reference: string,
): { pool: string; image: string; snapName: string } | null {
  const match = /^rbd:([^/@]+)\/([^/@]+)@(.+)$/.exec(reference);
  return match === null ? null : { pool: match[1]!, image: match[2]!, snapName: match[3]! };
}
