/**
 * The logger the broker writes to: the subset of pino's API it uses, so `pino()` fits and
 * tests can pass a recorder. Fields first, message second (pino's convention).
 */

type LogMethod = (fields: Readonly<Record<string, unknown>>, message: string) => void;

export interface BrokerLogger {
  readonly debug: LogMethod;
  readonly info: LogMethod;
  readonly warn: LogMethod;
  readonly error: LogMethod;
}

const ignore: LogMethod = () => {};

export const silentLogger: BrokerLogger = {
  debug: ignore,
  info: ignore,
  warn: ignore,
  error: ignore,
};
