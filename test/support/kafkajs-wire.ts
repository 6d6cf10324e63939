/**
 * Sends single requests encoded by kafkajs's protocol layer (an independent implementation
 * of the Kafka wire format) and decodes the responses with it, without kafkajs's retries
 * and error translation, so tests see the exact error codes the broker returns.
 */
import { createRequire } from 'node:module';
import net from 'node:net';

const require = createRequire(import.meta.url);
const frameRequest = require('kafkajs/src/protocol/request.js') as (args: {
  correlationId: number;
  clientId: string;
  request: unknown;
}) => Promise<{ buffer: Buffer }>;
const requests = require('kafkajs/src/protocol/requests/index.js') as {
  requests: Record<string, { protocol: (args: { version: number }) => (request: object) => Built }>;
};

interface Built {
  readonly request: unknown;
  readonly response: { decode(payload: Buffer): Promise<unknown> };
}

export interface WireClient {
  /** Sends `api` at `version` with kafkajs's request arguments; resolves with the decoded response. */
  send<T = Record<string, unknown>>(api: string, version: number, args: object): Promise<T>;
  close(): void;
}

export async function connectWire(host: string, port: number): Promise<WireClient> {
  const socket = net.connect(port, host);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let buffered = Buffer.alloc(0);
  const waiting: ((payload: Buffer) => void)[] = [];
  socket.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    while (buffered.length >= 4 && buffered.length >= 4 + buffered.readInt32BE(0)) {
      const size = buffered.readInt32BE(0);
      waiting.shift()?.(buffered.subarray(8, 4 + size));
      buffered = buffered.subarray(4 + size);
    }
  });
  let correlationId = 0;
  return {
    async send<T>(api: string, version: number, args: object): Promise<T> {
      const definition = requests.requests[api];
      if (definition === undefined) throw new Error(`kafkajs has no ${api} request`);
      const built = definition.protocol({ version })(args);
      const frame = await frameRequest({
        correlationId: ++correlationId,
        clientId: 'wire',
        request: built.request,
      });
      const payload = new Promise<Buffer>((resolve) => waiting.push(resolve));
      socket.write(frame.buffer);
      return (await built.response.decode(await payload)) as T;
    },
    close: () => socket.destroy(),
  };
}
