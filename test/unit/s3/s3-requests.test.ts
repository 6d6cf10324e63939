/**
 * The requests an S3 target sends, as an HTTP server sees them, for the providers the suite
 * cannot run against: Alibaba OSS (virtual-hosted style, its signing region, create-only
 * writes with `x-oss-forbid-overwrite` answered by 409) and a path-style gateway, with plain
 * chunks signed with their name as the payload hash. Every request is signed for the real
 * service name; only the connection goes to a local server.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, beforeEach, test } from 'node:test';
import { s3TargetSchema } from '../../../bin/config/schema.js';
import { buildS3Target, type S3TargetParts } from '../../../bin/s3-target.js';
import { silentLogger } from '../../support/silent-logger.js';

interface SeenRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

let server: Server;
let port: number;
let directory: string;
const seen: SeenRequest[] = [];
const stored = new Set<string>();

before(async () => {
  directory = await mkdtemp(path.join(os.tmpdir(), 'extentlog-s3-requests-'));
  await writeFile(path.join(directory, 'id'), 'AKIDEXAMPLE\n');
  await writeFile(path.join(directory, 'secret'), 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY\n');
  server = createServer((request, response) => {
    const parts: Buffer[] = [];
    request.on('data', (part: Buffer) => parts.push(part));
    request.on('end', () => {
      const body = Buffer.concat(parts);
      seen.push({ method: request.method!, url: request.url!, headers: request.headers, body });
      const where = `${request.headers.host}${request.url!.split('?')[0]}`;
      if (request.method === 'PUT' && stored.has(where)) {
        // What OSS answers a write with x-oss-forbid-overwrite onto an existing object.
        response.writeHead(409, { 'content-type': 'application/xml' });
        response.end(
          '<?xml version="1.0" encoding="UTF-8"?><Error><Code>FileAlreadyExists</Code>' +
            '<Message>The object you specified already exists and can not be overwritten.</Message></Error>',
        );
      } else if (request.method === 'HEAD') {
        response.writeHead(stored.has(where) ? 200 : 404);
        response.end();
      } else if (request.method === 'PUT') {
        stored.add(where);
        response.writeHead(200, { etag: `"${createHash('md5').update(body).digest('hex')}"` });
        response.end();
      } else {
        response.writeHead(200, { 'content-type': 'application/xml' });
        response.end(
          '<?xml version="1.0" encoding="UTF-8"?>' +
            '<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></DeleteResult>',
        );
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

after(async () => {
  await new Promise((resolve) => server.close(resolve));
  await rm(directory, { recursive: true, force: true });
});

beforeEach(() => {
  seen.length = 0;
  stored.clear();
});

async function build(settings: Record<string, unknown>): Promise<S3TargetParts> {
  const config = s3TargetSchema.parse({
    type: 's3',
    name: 'dr',
    feeds: ['vm1'],
    bucket: 'example-dr',
    credentials: {
      accessKeyIdFile: path.join(directory, 'id'),
      secretAccessKeyFile: path.join(directory, 'secret'),
    },
    ...settings,
  });
  return buildS3Target(config, silentLogger);
}

/** Sends the connections of `parts` to the local server, after signing for the real host. */
function connectLocally(parts: S3TargetParts): void {
  parts.client.middlewareStack.add(
    (next) => async (args) => {
      Object.assign(args.request as object, { protocol: 'http:', hostname: '127.0.0.1', port });
      return next(args);
    },
    { step: 'deserialize', name: 'connectToTestServer' },
  );
}

/** Method, host and path, with the subresource (`?delete`) but not the SDK's `x-id`. */
function describe(request: SeenRequest): string {
  const [pathname, query = ''] = request.url.split('?');
  const subresource = query.startsWith('delete') ? '?delete' : '';
  return `${request.method} ${request.headers.host} ${pathname}${subresource}`;
}

function assertPlainBodies(requests: readonly SeenRequest[]): void {
  for (const request of requests) {
    assert.notEqual(request.headers['content-encoding'], 'aws-chunked', request.url);
    assert.equal(request.headers['x-amz-trailer'], undefined, request.url);
  }
}

test('OSS: virtual-hosted requests signed for the plain region; create-only writes refused with 409 read as exists', async () => {
  const parts = await build({
    provider: 'oss',
    endpoint: 'https://s3.oss-cn-hangzhou.aliyuncs.com',
    region: 'cn-hangzhou',
  });
  connectLocally(parts);
  try {
    const manifest = Buffer.from('{"format":"extentlog-manifest"}');
    assert.equal(
      await parts.store.put('manifests/m.json', manifest, { ifNoneMatch: true }),
      'created',
    );
    assert.equal(
      await parts.store.put('manifests/m.json', manifest, { ifNoneMatch: true }),
      'exists',
    );
    await parts.store.put('chunks/ab/abcd', Buffer.alloc(4096, 7));
    await parts.store.delete(['chunks/ab/abcd', 'chunks/cd/cdef']);
  } finally {
    parts.client.destroy();
  }
  assert.deepEqual(seen.map(describe), [
    'PUT example-dr.s3.oss-cn-hangzhou.aliyuncs.com /manifests/m.json',
    'PUT example-dr.s3.oss-cn-hangzhou.aliyuncs.com /manifests/m.json',
    'PUT example-dr.s3.oss-cn-hangzhou.aliyuncs.com /chunks/ab/abcd',
    'POST example-dr.s3.oss-cn-hangzhou.aliyuncs.com /?delete',
  ]);
  const [create, , chunk, remove] = seen;
  assert.match(
    String(create!.headers.authorization),
    /Credential=AKIDEXAMPLE\/\d{8}\/cn-hangzhou\/s3\/aws4_request/,
  );
  assert.equal(create!.headers['if-none-match'], '*');
  assert.equal(create!.headers['x-oss-forbid-overwrite'], 'true');
  assert.equal(chunk!.headers['if-none-match'], undefined, 'chunks are plain writes');
  assert.equal(chunk!.headers['x-oss-forbid-overwrite'], undefined);
  assert.equal(
    remove!.headers['content-md5'],
    createHash('md5').update(remove!.body).digest('base64'),
    'OSS refuses a multi-object delete without Content-MD5',
  );
  assertPlainBodies(seen);
});

test('a generic gateway gets path-style requests at its endpoint and no OSS header', async () => {
  const chunk = Buffer.alloc(8192, 3);
  const chunkName = createHash('sha256').update(chunk).digest('hex');
  const chunkPath = `/example-dr/chunks/${chunkName.slice(0, 2)}/${chunkName}`;
  const parts = await build({
    provider: 'generic',
    endpoint: `http://127.0.0.1:${port}`,
  });
  try {
    await parts.store.put('manifests/m.json', Buffer.from('{}'), { ifNoneMatch: true });
    await parts.store.delete(['chunks/ab/abcd']);
    assert.equal(await parts.chunks.write(chunkName, chunk), 'uploaded');
  } finally {
    parts.client.destroy();
  }
  assert.deepEqual(seen.map(describe), [
    `PUT 127.0.0.1:${port} /example-dr/manifests/m.json`,
    `POST 127.0.0.1:${port} /example-dr/?delete`,
    `HEAD 127.0.0.1:${port} ${chunkPath}`,
    `PUT 127.0.0.1:${port} ${chunkPath}`,
  ]);
  assert.equal(
    seen[3]!.headers['x-amz-content-sha256'],
    createHash('sha256').update(seen[3]!.body).digest('hex'),
    'a plain chunk is signed with its name, the sha256 of its body',
  );
  assert.match(String(seen[0]!.headers.authorization), /\/us-east-1\/s3\/aws4_request/);
  assert.equal(seen[0]!.headers['if-none-match'], '*');
  assert.equal(seen[0]!.headers['x-oss-forbid-overwrite'], undefined);
  assert.ok(seen[1]!.headers['content-md5'] !== undefined);
  assertPlainBodies(seen);
});
