/**
 * The EBS emulator speaks to the unmodified AWS SDK clients: EC2 snapshots of a volume the
 * test writes into, listing and reading blocks with checksums and pagination, writing a
 * snapshot through the direct APIs, and refusing bad or expired signatures, expired session
 * tokens and expired block tokens with the errors AWS sends.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import {
  CompleteSnapshotCommand,
  GetSnapshotBlockCommand,
  ListChangedBlocksCommand,
  ListSnapshotBlocksCommand,
  PutSnapshotBlockCommand,
  StartSnapshotCommand,
} from '@aws-sdk/client-ebs';
import {
  CreateSnapshotCommand,
  DeleteSnapshotCommand,
  DescribeSnapshotsCommand,
  DescribeVolumesCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import { EBSClient } from '@aws-sdk/client-ebs';
import { createAwsCaller } from '../../cloud/aws/aws-caller.js';
import { TokenBucket } from '../../cloud/token-bucket.js';
import { patternBytes, writeAt } from '../support/image-files.js';
import { startEmulator } from '../support/aws-emulator.js';

const BLOCK = 512 * 1024;

async function completedSnapshot(ec2: EC2Client, id: string) {
  for (let poll = 0; poll < 20; poll++) {
    const out = await ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [id] }));
    if (out.Snapshots?.[0]?.State === 'completed') return out.Snapshots[0];
  }
  throw new Error(`snapshot ${id} did not complete`);
}

test('EC2 snapshots of a volume list and read back through the direct APIs', async (t) => {
  const { aws, clients } = await startEmulator(t);
  const volume = await aws.addVolume({ sizeGiB: 1 });
  const described = await clients.ec2.send(
    new DescribeVolumesCommand({ VolumeIds: [volume.volumeId] }),
  );
  assert.equal(described.Volumes?.[0]?.Size, 1);
  // 150 written blocks, so that a page of 100 does not hold them all.
  for (let index = 0; index < 150; index++)
    await writeAt(volume.path, index * 2 * BLOCK, patternBytes(4096, index + 1));
  const created = await clients.ec2.send(
    new CreateSnapshotCommand({
      VolumeId: volume.volumeId,
      TagSpecifications: [{ ResourceType: 'snapshot', Tags: [{ Key: 'k', Value: 'v' }] }],
    }),
  );
  assert.equal(created.State, 'pending');
  const first = await completedSnapshot(clients.ec2, created.SnapshotId!);
  assert.deepEqual(first.Tags, [{ Key: 'k', Value: 'v' }]);

  const page1 = await clients.ebs.send(
    new ListSnapshotBlocksCommand({ SnapshotId: first.SnapshotId, MaxResults: 100 }),
  );
  assert.equal(page1.Blocks?.length, 100);
  assert.equal(page1.BlockSize, BLOCK);
  assert.equal(page1.VolumeSize, 1);
  assert.ok(page1.ExpiryTime instanceof Date && page1.ExpiryTime.getTime() > Date.now());
  const page2 = await clients.ebs.send(
    new ListSnapshotBlocksCommand({
      SnapshotId: first.SnapshotId,
      MaxResults: 100,
      NextToken: page1.NextToken,
    }),
  );
  assert.equal(page2.Blocks?.length, 50);
  assert.equal(page2.NextToken, undefined);
  const block = page2.Blocks![0]!;
  assert.equal(block.BlockIndex, 200);
  const read = await clients.ebs.send(
    new GetSnapshotBlockCommand({
      SnapshotId: first.SnapshotId,
      BlockIndex: 200,
      BlockToken: block.BlockToken,
    }),
  );
  const data = Buffer.from(await read.BlockData!.transformToByteArray());
  assert.equal(data.length, BLOCK);
  assert.equal(read.Checksum, createHash('sha256').update(data).digest('base64'));
  assert.deepEqual(data.subarray(0, 4096), patternBytes(4096, 101));

  await writeAt(volume.path, 7 * BLOCK, patternBytes(10, 9)); // a hole becomes written
  await writeAt(volume.path, 0, patternBytes(4096, 9)); // a written block changes
  const second = await completedSnapshot(
    clients.ec2,
    (await clients.ec2.send(new CreateSnapshotCommand({ VolumeId: volume.volumeId }))).SnapshotId!,
  );
  const changed = await clients.ebs.send(
    new ListChangedBlocksCommand({
      FirstSnapshotId: first.SnapshotId,
      SecondSnapshotId: second.SnapshotId,
    }),
  );
  assert.deepEqual(
    changed.ChangedBlocks?.map((entry) => [entry.BlockIndex, entry.FirstBlockToken !== undefined]),
    [
      [0, true],
      [7, false],
    ],
  );
  await clients.ec2.send(new DeleteSnapshotCommand({ SnapshotId: first.SnapshotId }));
  await assert.rejects(
    clients.ebs.send(
      new ListChangedBlocksCommand({
        FirstSnapshotId: first.SnapshotId,
        SecondSnapshotId: second.SnapshotId,
      }),
    ),
    (error: Error & { Reason?: string }) =>
      error.name === 'ResourceNotFoundException' && error.Reason === 'SNAPSHOT_NOT_FOUND',
  );
});

test('a snapshot written through the direct APIs checks block and aggregate checksums', async (t) => {
  const { aws, clients } = await startEmulator(t);
  const started = await clients.ebs.send(
    new StartSnapshotCommand({
      VolumeSize: 1,
      Timeout: 60,
      ClientToken: 'token-1',
      Tags: [{ Key: 'a', Value: 'b' }],
    }),
  );
  assert.equal(started.Status, 'pending');
  const again = await clients.ebs.send(
    new StartSnapshotCommand({ VolumeSize: 1, ClientToken: 'token-1' }),
  );
  assert.equal(
    again.SnapshotId,
    started.SnapshotId,
    'a ClientToken makes StartSnapshot idempotent',
  );
  const digests: Buffer[] = [];
  for (const index of [3, 5]) {
    const data = patternBytes(BLOCK, index);
    const digest = createHash('sha256').update(data).digest();
    digests.push(digest);
    const put = await clients.ebs.send(
      new PutSnapshotBlockCommand({
        SnapshotId: started.SnapshotId,
        BlockIndex: index,
        BlockData: data,
        DataLength: BLOCK,
        Checksum: digest.toString('base64'),
        ChecksumAlgorithm: 'SHA256',
      }),
    );
    assert.equal(put.Checksum, digest.toString('base64'));
  }
  await assert.rejects(
    clients.ebs.send(
      new PutSnapshotBlockCommand({
        SnapshotId: started.SnapshotId,
        BlockIndex: 9,
        BlockData: patternBytes(BLOCK, 1),
        DataLength: BLOCK,
        Checksum: digests[0]!.toString('base64'),
        ChecksumAlgorithm: 'SHA256',
      }),
    ),
    (error: Error & { Reason?: string }) =>
      error.name === 'ValidationException' && /x-amz-Checksum/.test(error.message),
  );
  const aggregate = createHash('sha256').update(Buffer.concat(digests)).digest('base64');
  const completed = await clients.ebs.send(
    new CompleteSnapshotCommand({
      SnapshotId: started.SnapshotId,
      ChangedBlocksCount: 2,
      Checksum: aggregate,
      ChecksumAlgorithm: 'SHA256',
      ChecksumAggregationMethod: 'LINEAR',
    }),
  );
  assert.equal(completed.Status, 'pending');
  const snapshot = await completedSnapshot(clients.ec2, started.SnapshotId!);
  assert.equal(snapshot.VolumeId, 'vol-ffffffff');
  const listed = await clients.ebs.send(
    new ListSnapshotBlocksCommand({ SnapshotId: started.SnapshotId }),
  );
  assert.deepEqual(
    listed.Blocks?.map((entry) => entry.BlockIndex),
    [3, 5],
  );
  assert.equal(aws.snapshot(started.SnapshotId!)?.state, 'completed');
});

test('bad or expired signatures, expired session tokens and expired block tokens are refused', async (t) => {
  const { aws, clients } = await startEmulator(t);
  const volume = await aws.addVolume({ sizeGiB: 1 });
  await writeAt(volume.path, 0, patternBytes(100, 1));
  const id = (await clients.ec2.send(new CreateSnapshotCommand({ VolumeId: volume.volumeId })))
    .SnapshotId!;
  await completedSnapshot(clients.ec2, id);

  const wrongKey = new EBSClient({
    region: aws.region,
    endpoint: aws.endpoint,
    maxAttempts: 1,
    credentials: { ...aws.credentials, secretAccessKey: 'not-the-secret' },
  });
  t.after(() => wrongKey.destroy());
  await assert.rejects(
    wrongKey.send(new ListSnapshotBlocksCommand({ SnapshotId: id })),
    (error: Error) =>
      error.name === 'InvalidSignatureException' && /does not match/.test(error.message),
  );

  // A clock 20 minutes slow signs requests the server calls expired; the SDK corrects its
  // clock offset from the answer's Date, so the caller's one retry goes through.
  const slowClock = new EBSClient({
    region: aws.region,
    endpoint: aws.endpoint,
    maxAttempts: 1,
    credentials: aws.credentials,
    systemClockOffset: -20 * 60 * 1000,
  });
  t.after(() => slowClock.destroy());
  const listSlow = () => slowClock.send(new ListSnapshotBlocksCommand({ SnapshotId: id }));
  await assert.rejects(
    listSlow(),
    (error: Error) =>
      error.name === 'InvalidSignatureException' && /Signature expired/.test(error.message),
  );
  slowClock.config.systemClockOffset = -20 * 60 * 1000; // slow again
  const retried: string[] = [];
  const caller = createAwsCaller({
    bucket: new TokenBucket({ ratePerSecond: 100, burst: 10 }),
    onRetry: (_what, _attempt, _delayMs, facts) => void retried.push(facts.kind),
  });
  assert.equal((await caller.call('ListSnapshotBlocks', listSlow)).Blocks?.length, 1);
  assert.deepEqual(retried, ['clock'], 'one retry, after the SDK corrected its clock');

  aws.setBlockTokenTtl(-1);
  const listed = await clients.ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: id }));
  await assert.rejects(
    clients.ebs.send(
      new GetSnapshotBlockCommand({
        SnapshotId: id,
        BlockIndex: 0,
        BlockToken: listed.Blocks![0]!.BlockToken,
      }),
    ),
    (error: Error & { Reason?: string }) =>
      error.name === 'ValidationException' &&
      error.Reason === 'INVALID_BLOCK_TOKEN' &&
      /expired/.test(error.message),
  );

  aws.expireSessionToken();
  await assert.rejects(
    clients.ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: id })),
    (error: Error) => error.name === 'ExpiredTokenException',
  );
  await assert.rejects(
    clients.ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [id] })),
    (error: Error) => error.name === 'ExpiredTokenException',
  );
  assert.ok(aws.requests.every((request) => request.status > 0));
});
