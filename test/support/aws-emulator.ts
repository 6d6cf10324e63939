/**
 * The EBS emulator for a test: started on a fresh directory, closed after the test, with a
 * shared credentials file holding its test credentials and SDK clients pointed at it.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { createAwsClients, type AwsClients } from '../../bin/aws-clients.js';
import {
  startAwsEbsEmulator,
  type AwsEbsEmulator,
  type EmulatorOptions,
} from '../emulators/aws-ebs/emulator.js';
import { tempDir, type TempDir } from './temp-dir.js';

export interface EmulatorFixture {
  readonly dir: TempDir;
  readonly aws: AwsEbsEmulator;
  readonly credentialsFile: string;
  readonly clients: AwsClients;
}

export async function startEmulator(
  t: TestContext,
  options: Partial<Omit<EmulatorOptions, 'dir'>> = {},
): Promise<EmulatorFixture> {
  const dir = await tempDir(t, 'aws-ebs');
  const aws = await startAwsEbsEmulator({ dir: path.join(dir.path, 'aws'), ...options });
  dir.beforeRemoval(() => aws.close());
  const credentialsFile = path.join(dir.path, 'credentials');
  await writeFile(
    credentialsFile,
    [
      '[default]',
      `aws_access_key_id = ${aws.credentials.accessKeyId}`,
      `aws_secret_access_key = ${aws.credentials.secretAccessKey}`,
      ...(aws.credentials.sessionToken === undefined
        ? []
        : [`aws_session_token = ${aws.credentials.sessionToken}`]),
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  const clients = createAwsClients({
    region: aws.region,
    credentialsFile,
    ebsEndpoint: aws.endpoint,
    ec2Endpoint: aws.endpoint,
  });
  dir.beforeRemoval(() => clients.close());
  return { dir, aws, credentialsFile, clients };
}
