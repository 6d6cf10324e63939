/**
 * OCI request signatures: the headers signed per method, the signing string's shape, the
 * fingerprint (checked against `openssl rsa -pubout -outform DER | openssl md5 -c`, as
 * Oracle's documentation computes it), and the emulator's independent check accepting a
 * signed request and refusing a tampered one.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { generateKeyPairSync, verify } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import {
  keyFingerprint,
  OciRequestSigner,
  signedHeaderNames,
  signingString,
} from '../../../producers/oci/oci-request-signer.js';
import { checkOciSignature } from '../../emulators/oci/oci-signature-check.js';

const run = promisify(execFile);
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const pem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
const credentials = {
  tenancyId: 'ocid1.tenancy.oc1..aaaa',
  userId: 'ocid1.user.oc1..bbbb',
  privateKeyPem: pem,
};
const now = new Date('2026-11-25T10:00:00Z');

test('GET signs date, (request-target) and host; POST adds the body headers', () => {
  assert.deepEqual(signedHeaderNames('GET'), ['date', '(request-target)', 'host']);
  assert.deepEqual(signedHeaderNames('delete'), ['date', '(request-target)', 'host']);
  assert.deepEqual(signedHeaderNames('POST'), [
    'date',
    '(request-target)',
    'host',
    'content-length',
    'content-type',
    'x-content-sha256',
  ]);
  const url = new URL(
    'https://iaas.us-phoenix-1.oraclecloud.com/20160918/instances?availabilityDomain=AD-1&compartmentId=ocid1',
  );
  assert.equal(
    signingString(
      'GET',
      url,
      { date: 'Thu, 05 Jan 2014 21:31:40 GMT', host: url.host },
      signedHeaderNames('GET'),
    ),
    'date: Thu, 05 Jan 2014 21:31:40 GMT\n' +
      '(request-target): get /20160918/instances?availabilityDomain=AD-1&compartmentId=ocid1\n' +
      'host: iaas.us-phoenix-1.oraclecloud.com',
  );
});

test('the Authorization header: keyId tenancy/user/fingerprint, rsa-sha256, a signature that verifies', () => {
  const signer = new OciRequestSigner(credentials);
  const url = new URL('https://iaas.example.com/20160918/volumes');
  const body = JSON.stringify({ displayName: 'x' });
  const signed = signer.sign('POST', url, body, {}, now);
  const authorization = signed.headers.authorization ?? '';
  assert.match(
    authorization,
    /^Signature version="1",keyId="ocid1\.tenancy\.oc1\.\.aaaa\/ocid1\.user\.oc1\.\.bbbb\/([0-9a-f]{2}:){15}[0-9a-f]{2}",algorithm="rsa-sha256",headers="date \(request-target\) host content-length content-type x-content-sha256",signature="[A-Za-z0-9+/=]+"$/,
  );
  assert.equal(signed.headers['content-length'], String(Buffer.byteLength(body)));
  assert.equal(signed.headers.date, 'Wed, 25 Nov 2026 10:00:00 GMT');
  const signature = Buffer.from(/signature="([^"]+)"/.exec(authorization)?.[1] ?? '', 'base64');
  assert.ok(
    verify(
      'sha256',
      Buffer.from(signingString('POST', url, signed.headers, signedHeaderNames('POST'))),
      publicKey,
      signature,
    ),
  );
});

test('the fingerprint is the MD5 of the DER public key, as openssl computes it', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'extentlog-oci-key-'));
  try {
    await writeFile(path.join(dir, 'key.pem'), pem);
    const { stdout } = await run('sh', [
      '-c',
      `openssl rsa -pubout -outform DER -in ${path.join(dir, 'key.pem')} 2>/dev/null | openssl md5 -c`,
    ]);
    assert.equal(keyFingerprint(privateKey), stdout.trim().split('= ')[1]);
    assert.equal(keyFingerprint(publicKey), keyFingerprint(privateKey));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("the emulator's check accepts a signed request and names what is wrong with a tampered one", () => {
  const signer = new OciRequestSigner(credentials);
  const url = new URL('http://127.0.0.1:8080/20160918/volumeAttachments');
  const body = JSON.stringify({ type: 'iscsi', volumeId: 'ocid1.volume' });
  const signed = signer.sign('POST', url, body, {}, now);
  const expected = { keyId: signer.keyId, publicKey, now };
  const request = {
    method: 'POST',
    target: url.pathname,
    headers: signed.headers,
    body: Buffer.from(body),
  };
  assert.equal(checkOciSignature(request, expected), null);
  assert.match(
    checkOciSignature({ ...request, body: Buffer.from(`${body} `) }, expected) ?? '',
    /content-length/,
  );
  assert.match(
    checkOciSignature(
      {
        ...request,
        body: Buffer.from(body.replace('iscsi', 'paravirtualized').slice(0, body.length)),
      },
      expected,
    ) ?? '',
    /x-content-sha256/,
  );
  assert.match(
    checkOciSignature({ ...request, target: '/20160918/volumes' }, expected) ?? '',
    /does not verify/,
  );
  assert.match(
    checkOciSignature(request, { ...expected, now: new Date(now.getTime() + 6 * 60_000) }) ?? '',
    /more than 5 minutes/,
  );
});
