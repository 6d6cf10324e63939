/**
 * The VMware source's reference: the changeId of the snapshot a committed cycle read
 * (VirtualDiskFlatVer2BackingInfo.changeId of the snapshot's disk), `vmware-cbt:<changeId>`.
 * The next cycle asks QueryChangedDiskAreas for what changed since it.
 */
const PREFIX = 'vmware-cbt:';

export function cbtReference(changeId: string): string {
  return `${PREFIX}${changeId}`;
}

/** The changeId of a reference, or null when it is not one of this source. */
export function parseCbtReference(reference: string): string | null {
  return reference.startsWith(PREFIX) && reference.length > PREFIX.length
    ? reference.slice(PREFIX.length)
    : null;
}

/** Faults of QueryChangedDiskAreas that mean the changeId no longer counts (CBT was reset). */
export const CBT_RESET_FAULTS: ReadonlySet<string> = new Set(['FileFault', 'InvalidArgument']);
