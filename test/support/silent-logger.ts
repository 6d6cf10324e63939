/** A logger that drops everything, for tests that do not look at logs. */
import { pino, type Logger } from 'pino';

export const silentLogger: Logger = pino({ level: 'silent' });
