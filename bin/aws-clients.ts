/**
 * The AWS SDK clients of one EBS source or target, built in the composition root from its
 * configuration. Credentials never come from the configuration file itself: the default
 * provider chain (environment, shared files, SSO, instance or container role), optionally
 * for a named `profile`, or the shared credentials file at `credentialsFile`. The clients
 * make one attempt per call (`maxAttempts: 1`): retries and pacing are the adapters' own
 * (cloud/aws/aws-caller.ts), so the request-rate limit also covers retries.
 */
import { EBSClient } from '@aws-sdk/client-ebs';
import { EC2Client } from '@aws-sdk/client-ec2';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { fromIni } from '@aws-sdk/credential-provider-ini';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import type { Logger } from 'pino';
import { createAwsCaller, type AwsCaller } from '../cloud/aws/aws-caller.js';
import type { SnapshotPolling } from '../cloud/aws/snapshot-waiter.js';
import { DEFAULT_RETRY_POLICY } from '../cloud/backoff.js';
import { TokenBucket } from '../cloud/token-bucket.js';
import type { AwsSettingsConfig } from './config/schema.js';

export interface AwsClientSettings {
  readonly region: string;
  readonly profile?: string | undefined;
  /** A shared credentials file (INI: aws_access_key_id, aws_secret_access_key, aws_session_token). */
  readonly credentialsFile?: string | undefined;
  /** Endpoint overrides (VPC endpoints, FIPS, an emulator). */
  readonly ebsEndpoint?: string | undefined;
  readonly ec2Endpoint?: string | undefined;
  /** Milliseconds a request may take before it is abandoned (and retried). */
  readonly requestTimeoutMs?: number | undefined;
  /** Connections per client: at least the requests the adapter keeps in flight (default 50). */
  readonly maxSockets?: number | undefined;
}

export interface AwsClients {
  readonly ebs: EBSClient;
  readonly ec2: EC2Client;
  close(): void;
}

export function awsCredentials(
  settings: AwsClientSettings,
): AwsCredentialIdentityProvider | AwsCredentialIdentity {
  if (settings.credentialsFile !== undefined)
    return fromIni({
      filepath: settings.credentialsFile,
      ...(settings.profile === undefined ? {} : { profile: settings.profile }),
    });
  return defaultProvider(settings.profile === undefined ? {} : { profile: settings.profile });
}

export function createAwsClients(settings: AwsClientSettings): AwsClients {
  const credentials = awsCredentials(settings);
  const maxSockets = settings.maxSockets ?? 50;
  const common = {
    region: settings.region,
    credentials,
    maxAttempts: 1,
    requestHandler: {
      ...(settings.requestTimeoutMs === undefined
        ? {}
        : { requestTimeout: settings.requestTimeoutMs }),
      httpAgent: new HttpAgent({ keepAlive: true, maxSockets }),
      httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets }),
    },
  };
  const ebs = new EBSClient({
    ...common,
    ...(settings.ebsEndpoint === undefined ? {} : { endpoint: settings.ebsEndpoint }),
  });
  const ec2 = new EC2Client({
    ...common,
    ...(settings.ec2Endpoint === undefined ? {} : { endpoint: settings.ec2Endpoint }),
  });
  return {
    ebs,
    ec2,
    close() {
      ebs.destroy();
      ec2.destroy();
    },
  };
}

/** What an EBS source or target needs of AWS, built from its configuration. */
export interface AwsAccess extends AwsClients {
  readonly caller: AwsCaller;
  readonly polling: SnapshotPolling;
}

export function createAwsAccess(
  settings: AwsSettingsConfig,
  inFlight: number,
  logger: Logger,
): AwsAccess {
  // Room for the adapter's block requests and its listing and EC2 calls beside them.
  const clients = createAwsClients({ ...settings, maxSockets: inFlight + 8 });
  const caller = createAwsCaller({
    bucket: new TokenBucket({
      ratePerSecond: settings.maxRequestsPerSecond,
      burst: settings.burst,
    }),
    retry: { ...DEFAULT_RETRY_POLICY, maxAttempts: settings.maxAttempts },
    onRetry: (what, attempt, delayMs, facts) =>
      logger.debug(
        { what, attempt, delayMs, awsCode: facts.awsCode, reason: facts.reason },
        'aws: retrying',
      ),
  });
  return {
    ...clients,
    caller,
    polling: {
      initialPollMs: settings.snapshotPollMs,
      maxPollMs: settings.snapshotMaxPollMs,
      timeoutMs: settings.snapshotWaitTimeoutMs,
    },
    close: () => clients.close(),
  };
}
