/** A StoreLogger that keeps every entry, for assertions on what the store reported. */
import type { StoreLogger } from '../../log/broker/storage/index.js';

export interface LogEntry {
  readonly level: 'info' | 'warn' | 'error';
  readonly fields: Readonly<Record<string, unknown>>;
  readonly message: string;
}

export function recordingLogger(): StoreLogger & { readonly entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  const at =
    (level: LogEntry['level']) => (fields: Readonly<Record<string, unknown>>, message: string) =>
      void entries.push({ level, fields, message });
  return { entries, info: at('info'), warn: at('warn'), error: at('error') };
}
