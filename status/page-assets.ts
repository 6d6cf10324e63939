/**
 * The status page's three files (HTML, CSS, JS), read once when the API starts. They ship
 * in `status/page/` beside the sources; the compiled module finds them there from `dist/`.
 */
import { readFileSync } from 'node:fs';
import { StatusError } from './errors.js';

export interface PageAsset {
  readonly contentType: string;
  readonly body: string;
}

const FILES = {
  'status-page.html': 'text/html; charset=utf-8',
  'status-page.css': 'text/css; charset=utf-8',
  'status-page.js': 'text/javascript; charset=utf-8',
} as const;

export type PageFile = keyof typeof FILES;

function readAsset(file: PageFile): string {
  const candidates = [
    new URL(`./page/${file}`, import.meta.url),
    new URL(`../../status/page/${file}`, import.meta.url),
  ];
  for (const candidate of candidates) {
    try {
      return readFileSync(candidate, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  throw new StatusError(
    'EXTENTLOG_ERR_STATUS_PAGE_MISSING',
    `status page file ${file} not found: looked in ${candidates.map(String).join(' and ')}`,
  );
}

export function loadPageAssets(): ReadonlyMap<PageFile, PageAsset> {
  return new Map(
    (Object.keys(FILES) as PageFile[]).map((file) => [
      file,
      { contentType: FILES[file], body: readAsset(file) },
    ]),
  );
}
