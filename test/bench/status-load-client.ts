/**
 * A load client for the status benchmark, run as a child process so that its timing does
 * not share an event loop with the server it measures:
 *
 *   status-load-client URL INTERVAL_MS [ROUTE...]
 *
 * Reads the routes (by default the status API's read routes) in turn (one request in flight, one every INTERVAL_MS) until its
 * stdin closes, then prints {"latenciesMs": {route: [...]}, "errors": n, "notReady": n} as
 * JSON (errors: failed requests and error answers; notReady: /readyz answering 503). The first
 * round of each route is a warm-up (connection set-up, first compilation) and not counted.
 */
import process from 'node:process';
import { performance } from 'node:perf_hooks';

const STATUS_ROUTES = ['/api/v1/feeds', '/api/v1/targets', '/api/v1/overview', '/readyz'];

async function main(): Promise<void> {
  const [url, interval, ...routes] = process.argv.slice(2);
  if (url === undefined || interval === undefined)
    throw new Error('usage: status-load-client URL INTERVAL_MS [ROUTE...]');
  const read = routes.length > 0 ? routes : STATUS_ROUTES;
  const intervalMs = Number(interval);
  let running = true;
  process.stdin.on('end', () => (running = false));
  process.stdin.resume();
  const latenciesMs: Record<string, number[]> = Object.fromEntries(
    read.map((route) => [route, []]),
  );
  let errors = 0;
  let notReady = 0;
  for (let index = 0; running; index += 1) {
    const route = read[index % read.length]!;
    const startedAt = performance.now();
    try {
      const response = await fetch(`${url}${route}`);
      await response.arrayBuffer();
      if (response.status === 503 && route === '/readyz') notReady += 1;
      else if (!response.ok) errors += 1;
      if (index >= read.length) latenciesMs[route]!.push(performance.now() - startedAt);
    } catch {
      errors += 1;
    }
    const waitMs = intervalMs - (performance.now() - startedAt);
    if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
  }
  process.stdout.write(`${JSON.stringify({ latenciesMs, errors, notReady })}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`status-load-client: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
