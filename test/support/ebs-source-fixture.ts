/**
 * EBS sources for tests against the emulator, and the feed's part played by hand: a
 * cycle's extents applied to a replica image the way the feed would (WRITE read in pieces
 * of `pieceBytes`, ZERO written as zeros), so a test can compare it with the volume.
 */
import { open } from 'node:fs/promises';
import { createAwsCaller } from '../../cloud/aws/aws-caller.js';
import { TokenBucket } from '../../cloud/token-bucket.js';
import { createEbsSource, type EbsSourceOptions } from '../../producers/ebs/ebs-source.js';
import type { ChangeSet, ChangeSource } from '../../producers/source.js';
import type { RecordedRequest } from '../emulators/aws-ebs/emulator.js';
import type { EmulatorFixture } from './aws-emulator.js';
import { silentLogger } from './silent-logger.js';

export interface TestSourceOptions extends Partial<Omit<EbsSourceOptions, 'caller'>> {
  readonly ratePerSecond?: number;
  readonly burst?: number;
  readonly maxAttempts?: number;
}

export function testEbsSource(fixture: EmulatorFixture, options: TestSourceOptions): ChangeSource {
  const caller = createAwsCaller({
    bucket: new TokenBucket({
      ratePerSecond: options.ratePerSecond ?? 5000,
      burst: options.burst ?? 100,
    }),
    retry: { maxAttempts: options.maxAttempts ?? 12, baseDelayMs: 5, maxDelayMs: 200 },
  });
  return createEbsSource({
    feed: 'feed-1',
    ebs: fixture.clients.ebs,
    ec2: fixture.clients.ec2,
    polling: { initialPollMs: 2, maxPollMs: 20, timeoutMs: 30_000 },
    logger: silentLogger,
    maxResults: 100,
    ...options,
    caller,
  });
}

/** Applies a cycle to `replicaPath` (sized to the disk) as the feed would; returns bytes by op. */
export async function applyCycle(
  changeSet: ChangeSet,
  replicaPath: string,
  pieceBytes = 1024 * 1024,
): Promise<{ WRITE: number; ZERO: number }> {
  const totals = { WRITE: 0, ZERO: 0 };
  const replica = await open(replicaPath, 'a+').then(async (handle) => {
    await handle.close();
    return open(replicaPath, 'r+');
  });
  try {
    if (changeSet.mode === 'FULL') await replica.truncate(0);
    await replica.truncate(changeSet.disk.sizeBytes);
    for await (const item of changeSet.changes()) {
      if (item.kind !== 'extent') continue;
      const end = item.offsetBytes + item.lengthBytes;
      for (let at = item.offsetBytes; at < end; at += pieceBytes) {
        const length = Math.min(pieceBytes, end - at);
        const data =
          item.op === 'WRITE' ? await changeSet.reader.read(at, length) : Buffer.alloc(length);
        // A FULL cycle's replica starts empty (all zeros): its ZERO extents need no writes.
        if (item.op === 'WRITE' || changeSet.mode !== 'FULL')
          await replica.write(data, 0, length, at);
      }
      totals[item.op === 'WRITE' ? 'WRITE' : 'ZERO'] += item.lengthBytes;
    }
  } finally {
    await replica.close();
  }
  return totals;
}

/** The most requests that arrived within any window of `windowMs`. */
export function maxRequestsInWindow(
  requests: readonly RecordedRequest[],
  windowMs: number,
): number {
  const times = requests.map((request) => request.atMs).sort((a, b) => a - b);
  let most = 0;
  let first = 0;
  for (let last = 0; last < times.length; last++) {
    while (times[last]! - times[first]! >= windowMs) first++;
    most = Math.max(most, last - first + 1);
  }
  return most;
}
