/**
 * The one error base of extentlog. Every failure the product reports carries a stable
 * `code` (EXTENTLOG_ERR_<AREA>_<WHAT>), whether retrying can help, and the foreign error
 * that caused it. Each area (schemas, log, producers, consumers, config, native) declares
 * its codes in one table next to its subclass; `docs/errors.md` documents every code and a
 * test keeps the two in step.
 */

export interface ErrorCodeInfo {
  /** One line for operators: what happened and, where there is one, the fix. */
  readonly summary: string;
  /** Whether the operation may succeed if repeated after a back-off. */
  readonly retriable: boolean;
}

export type ErrorCodeTable = Readonly<Record<string, ErrorCodeInfo>>;

export interface ExtentlogErrorOptions {
  cause?: unknown;
  /** Overrides the code's default from its table (e.g. a refused connection that is transient). */
  retriable?: boolean;
  /** Structured context for logs and the status API (disk, seq, offsetBytes, host, …). */
  details?: Readonly<Record<string, unknown>>;
}

export class ExtentlogError extends Error {
  readonly code: string;
  readonly retriable: boolean;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(
    code: string,
    message: string,
    retriable: boolean,
    options: ExtentlogErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retriable = options.retriable ?? retriable;
    this.details = Object.freeze({ ...(options.details ?? {}) });
  }

  toJSON(): {
    name: string;
    code: string;
    message: string;
    retriable: boolean;
    details: Record<string, unknown>;
  } {
    return {
      name: this.name,
      code: this.code,
      message: this.message,
      retriable: this.retriable,
      details: { ...this.details },
    };
  }
}

/**
 * Declares an area's error class bound to its code table, so a code that is not in the
 * table does not type-check and its retriable default comes from one place.
 *
 *   export const LOG_ERRORS = { EXTENTLOG_ERR_LOG_CONNECT: {...} } as const satisfies ErrorCodeTable;
 *   export class LogError extends defineErrorArea('LogError', LOG_ERRORS) {}
 */
export function defineErrorArea<T extends ErrorCodeTable>(name: string, table: T) {
  const area = class extends ExtentlogError {
    static readonly codes: T = table;
    constructor(code: keyof T & string, message: string, options: ExtentlogErrorOptions = {}) {
      const info = table[code];
      if (info === undefined) throw new TypeError(`${name}: unknown error code ${code}`);
      super(code, message, info.retriable, options);
    }
  };
  Object.defineProperty(area, 'name', { value: name });
  return area;
}

/** A short, loggable description of any thrown value (for `cause` chains from foreign code). */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' && !error.message.includes(code)
      ? `${error.message} (${code})`
      : error.message;
  }
  return String(error);
}
