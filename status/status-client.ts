/**
 * A client of the status API for `extentlog status` and scripts: reads the overview
 * document (`GET /api/v1/overview`) over HTTP with a deadline.
 */
import { describeError } from '../errors/extentlog-error.js';
import type { Overview } from './api-views.js';
import { StatusError } from './errors.js';

export async function fetchOverview(baseUrl: string, timeoutMs: number): Promise<Overview> {
  const url = new URL('api/v1/overview', baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
  let response: Response;
  try {
    response = await fetch(url, {
      signal: AbortSignal.timeout(timeoutMs),
      headers: { accept: 'application/json' },
    });
  } catch (error) {
    const cause = (error as { cause?: unknown }).cause ?? error;
    throw new StatusError(
      'EXTENTLOG_ERR_STATUS_UNREACHABLE',
      `cannot reach the status API at ${url.href}: ${describeError(cause)}; check that the process runs with a 'status' section in its configuration, or pass --url`,
      { cause: error },
    );
  }
  const body = await response.text();
  if (!response.ok) {
    throw new StatusError(
      'EXTENTLOG_ERR_STATUS_RESPONSE',
      `${url.href} answered HTTP ${response.status}: ${body.slice(0, 500)}`,
      { details: { status: response.status } },
    );
  }
  try {
    const overview = JSON.parse(body) as Overview;
    if (!Array.isArray(overview.feeds) || !Array.isArray(overview.targets))
      throw new Error('expected an object with feeds and targets');
    return overview;
  } catch (error) {
    throw new StatusError(
      'EXTENTLOG_ERR_STATUS_RESPONSE',
      `${url.href} did not answer with a status overview: ${describeError(error)}`,
      { cause: error },
    );
  }
}
