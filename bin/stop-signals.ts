/**
 * SIGTERM and SIGINT for a command: once it is `ready()`, the first asks it to stop cleanly
 * (the AbortSignal fires) and a second one, while the clean stop is under way, exits at
 * once. Before it is ready — still starting, perhaps waiting for an unreachable cluster —
 * there is nothing to stop cleanly, so the first signal exits at once.
 */
import process from 'node:process';

export interface StopSignals {
  readonly signal: AbortSignal;
  /** From now on, a signal asks for a clean stop. */
  ready(): void;
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
  let isReady = false;
  const handler = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted || !isReady) {
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
    ready: () => {
      isReady = true;
    },
    received,
    dispose() {
      process.off('SIGTERM', handler);
      process.off('SIGINT', handler);
    },
  };
}
