/**
 * SIGTERM and SIGINT for a command: the first asks it to stop cleanly (the signal's
 * AbortSignal fires); a second one, while the clean stop is under way, exits at once.
 */
import process from 'node:process';

export interface StopSignals {
  readonly signal: AbortSignal;
  /** Resolves with the name of the first signal received. */
  readonly received: Promise<string>;
  dispose(): void;
}

export function listenForStopSignals(onForcedExit: (signal: string) => void): StopSignals {
  const controller = new AbortController();
  let resolveReceived: (signal: string) => void = () => undefined;
  const received = new Promise<string>((resolve) => {
    resolveReceived = resolve;
  });
  const handler = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      onForcedExit(signal);
      process.exit(signal === 'SIGINT' ? 130 : 143);
    }
    controller.abort(new Error(`received ${signal}`));
    resolveReceived(signal);
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
  return {
    signal: controller.signal,
    received,
    dispose() {
      process.off('SIGTERM', handler);
      process.off('SIGINT', handler);
    },
  };
}
