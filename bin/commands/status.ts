/**
 * `extentlog status`: the status of a running extentlog process, from its status API, as
 * tables in the terminal (or the raw overview with --json). The URL comes from --url, else
 * from the configuration's `status` section (-c), else the default port on localhost.
 *
 * Exit codes: 0 every target disk protected; 1 problems (listed) or the API unreachable;
 * 2 bad arguments or configuration.
 */
import process from 'node:process';
import { parseArgs } from 'node:util';
import { describeError, ExtentlogError } from '../../errors/extentlog-error.js';
import { StatusError } from '../../status/errors.js';
import { fetchOverview } from '../../status/status-client.js';
import { loadConfig } from '../config/load-config.js';
import { STATUS_DEFAULT_PORT } from '../config/schema.js';
import { formatStatusReport } from '../status-report.js';

const USAGE = `usage: extentlog status [--url URL | -c FILE] [options]

Shows every feed and target of a running extentlog process: phases, epochs, lag (records,
bytes, seconds), restore points and errors.

options:
  --url URL           the process's status API (default: from -c, else http://127.0.0.1:${STATUS_DEFAULT_PORT})
  -c, --config FILE   read the status API's address from this configuration's 'status' section
  --json              print the overview document (GET /api/v1/overview) instead of tables
  --timeout SECONDS   how long to wait for an answer (default 10)
  -h, --help          this text

Exit codes: 0 every target disk protected, 1 problems or the API unreachable, 2 bad arguments.`;

/** The status API's URL from a configuration file (a wildcard listen address means loopback). */
async function urlFromConfig(file: string): Promise<string> {
  const config = await loadConfig(file);
  const host = config.status?.host ?? '127.0.0.1';
  const reachable = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  const port = config.status?.port ?? STATUS_DEFAULT_PORT;
  if (port === 0)
    throw new StatusError(
      'EXTENTLOG_ERR_STATUS_UNREACHABLE',
      `${file} sets status.port 0 (a free port picked at each start): pass --url with the address the process logged ('status API listening')`,
    );
  return `http://${reachable.includes(':') ? `[${reachable}]` : reachable}:${port}`;
}

export async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        url: { type: 'string' },
        config: { type: 'string', short: 'c' },
        json: { type: 'boolean' },
        timeout: { type: 'string', default: '10' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    process.stderr.write(`extentlog status: ${(error as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  if (values.help === true) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (!/^\d+$/.test(values.timeout) || Number(values.timeout) < 1) {
    process.stderr.write(
      `extentlog status: --timeout expects a whole number of seconds, at least 1, received '${values.timeout}'\n`,
    );
    return 2;
  }
  let url: string;
  try {
    url =
      values.url ??
      (values.config === undefined
        ? `http://127.0.0.1:${STATUS_DEFAULT_PORT}`
        : await urlFromConfig(values.config));
    new URL(url);
  } catch (error) {
    process.stderr.write(`extentlog status: ${describeError(error)}\n`);
    return 2;
  }
  try {
    const overview = await fetchOverview(url, Number(values.timeout) * 1000);
    process.stdout.write(
      values.json === true
        ? `${JSON.stringify(overview, null, 2)}\n`
        : formatStatusReport(overview, url),
    );
    return overview.protected ? 0 : 1;
  } catch (error) {
    const code = error instanceof ExtentlogError ? ` [${error.code}]` : '';
    process.stderr.write(`extentlog status: ${describeError(error)}${code}\n`);
    return 1;
  }
}
