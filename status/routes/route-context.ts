/** What every route of the status API receives from the app that mounts it. */
import type { BearerToken } from '../bearer-token.js';
import type { StatusView } from '../status-view.js';

export interface StatusLogger {
  info(fields: Readonly<Record<string, unknown>>, message: string): void;
  warn(fields: Readonly<Record<string, unknown>>, message: string): void;
}

export interface RouteContext {
  readonly view: StatusView;
  /** null: actions are disabled (no token file configured). */
  readonly token: BearerToken | null;
  readonly logger: StatusLogger;
}
