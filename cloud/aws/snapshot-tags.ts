/**
 * The tags extentlog puts on the EBS snapshots it makes, source and target alike, so that it
 * finds them again with `DescribeSnapshots` tag filters. A tag value holds at most 255
 * characters (EC2 `CreateTags`): a longer disk id is tagged by its digest, so that the
 * filter still matches exactly one disk.
 */
import { createHash } from 'node:crypto';

export const TAG_FEED = 'extentlog:feed';
export const TAG_DISK = 'extentlog:disk';

const MAX_TAG_VALUE_CHARS = 255;

/** The `extentlog:disk` value of a disk: its id, or `sha256:<hex>` of an id too long for a tag. */
export function diskTagValue(diskId: string): string {
  return diskId.length <= MAX_TAG_VALUE_CHARS
    ? diskId
    : `sha256:${createHash('sha256').update(diskId).digest('hex')}`;
}
