/**
 * Target paths from a template such as `/var/lib/extentlog/{feed}/{disk}.img`. Placeholders
 * are `{feed}` and `{disk}`; values are percent-encoded (`vm-42/scsi0:1` → `vm-42%2Fscsi0%3A1`)
 * so a disk id can neither add directories nor climb out of the template's directory, and
 * two different ids never share a path.
 */
import { TargetError } from '../errors.js';
import type { TargetDiskInfo } from '../target.js';

/** What a path is made of: the feed and the disk id. */
export type DiskName = Pick<TargetDiskInfo, 'feed' | 'diskId'>;

const PLACEHOLDER = /\{([^{}]*)\}/g;
const KNOWN = new Set(['feed', 'disk']);

function encodeSegment(value: string): string {
  const encoded = encodeURIComponent(value);
  // '.' and '..' are the only encodings that still mean something to the filesystem.
  return encoded === '.' || encoded === '..' ? encoded.replaceAll('.', '%2E') : encoded;
}

/** Validates `template` once and returns the function that expands it per disk. */
export function pathTemplate(template: string): (disk: DiskName) => string {
  if (template === '')
    throw new TargetError('EXTENTLOG_ERR_TARGET_CONFIG', 'file target: the path template is empty');
  for (const [, name] of template.matchAll(PLACEHOLDER))
    if (!KNOWN.has(name ?? ''))
      throw new TargetError(
        'EXTENTLOG_ERR_TARGET_CONFIG',
        `file target: path template ${template} has an unknown placeholder {${name}}; use {feed} and {disk}`,
      );
  if (!template.includes('{disk}'))
    throw new TargetError(
      'EXTENTLOG_ERR_TARGET_CONFIG',
      `file target: path template ${template} has no {disk} placeholder, so every disk would share one file`,
    );
  return (disk) =>
    template.replace(PLACEHOLDER, (_match, name: string) =>
      encodeSegment(name === 'feed' ? disk.feed : disk.diskId),
    );
}
