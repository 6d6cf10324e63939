/**
 * The status benchmark's floor: a bare node:http server in its own process that answers
 * every request at once with a small fixed JSON body. Read at the same time and rate as the
 * status API, its latencies are what the machine's scheduling alone costs, to read the
 * status API's against on a shared machine.
 *
 *   bare-http-server   (prints {"port": n} once listening; exits when stdin closes)
 */
import { createServer } from 'node:http';
import process from 'node:process';

const BODY = JSON.stringify({ ok: true });

const server = createServer((_request, response) => {
  response.writeHead(200, { 'content-type': 'application/json' }).end(BODY);
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  process.stdout.write(`${JSON.stringify({ port })}\n`);
});
process.stdin.on('end', () => {
  server.closeAllConnections();
  server.close();
});
process.stdin.resume();
