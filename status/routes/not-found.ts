/** The 404 of a named thing, listing the names that do exist. */
import { StatusError } from '../errors.js';

export function notFound(kind: string, name: string, known: readonly string[]): StatusError {
  return new StatusError(
    'EXTENTLOG_ERR_STATUS_NOT_FOUND',
    `no ${kind} '${name}' in this process; known: ${known.length === 0 ? 'none' : known.join(', ')}`,
    { details: { kind, name } },
  );
}

/** The item called `name`, or the 404 listing the names there are. */
export function findNamed<T>(
  kind: string,
  items: readonly T[],
  name: string,
  nameOf: (item: T) => string,
): T {
  const found = items.find((item) => nameOf(item) === name);
  if (found === undefined) throw notFound(kind, name, items.map(nameOf));
  return found;
}
