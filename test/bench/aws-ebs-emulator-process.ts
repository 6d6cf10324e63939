/**
 * The EBS emulator as its own process for the EBS benchmark, so that its HTTP serving,
 * signature checks and hashing do not share an event loop with the client measured:
 * `aws-ebs-emulator-process.js SPEC.json` starts it with one volume whose first `blocks`
 * 512 KiB blocks hold data, prints one JSON line (endpoint, region, volume id, credentials
 * file) and runs until stdin closes.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import process from 'node:process';
import { readFile } from 'node:fs/promises';
import { startAwsEbsEmulator } from '../emulators/aws-ebs/emulator.js';
import { patternBytes, writeAt } from '../support/image-files.js';

export interface EmulatorProcessSpec {
  readonly dir: string;
  readonly latencyMs: number;
  readonly blocks: number;
}

export interface EmulatorProcessReady {
  readonly endpoint: string;
  readonly region: string;
  readonly volumeId: string;
  readonly credentialsFile: string;
}

const BLOCK = 512 * 1024;

async function main(): Promise<void> {
  const spec = JSON.parse(await readFile(process.argv[2]!, 'utf8')) as EmulatorProcessSpec;
  const aws = await startAwsEbsEmulator({
    dir: path.join(spec.dir, 'aws'),
    latencyMs: spec.latencyMs,
    describesUntilCompleted: 1,
  });
  const volume = await aws.addVolume({ sizeGiB: Math.max(1, Math.ceil(spec.blocks / 2048)) });
  for (let index = 0; index < spec.blocks; index++)
    await writeAt(volume.path, index * BLOCK, patternBytes(BLOCK, index));
  const credentialsFile = path.join(spec.dir, 'credentials');
  const { accessKeyId, secretAccessKey, sessionToken } = aws.credentials;
  await writeFile(
    credentialsFile,
    `[default]\naws_access_key_id = ${accessKeyId}\naws_secret_access_key = ${secretAccessKey}\n${
      sessionToken === undefined ? '' : `aws_session_token = ${sessionToken}\n`
    }`,
    { mode: 0o600 },
  );
  const ready: EmulatorProcessReady = {
    endpoint: aws.endpoint,
    region: aws.region,
    volumeId: volume.volumeId,
    credentialsFile,
  };
  process.stdout.write(`${JSON.stringify(ready)}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => {
    aws.close().finally(() => process.exit(0));
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : error}\n`);
  process.exit(1);
});
