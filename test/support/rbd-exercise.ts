/**
 * Calls every function of the rbd addon `iterations` times (argv[2], default 50), for the
 * valgrind leak run: successes, librbd refusals and invalid arguments alike, so every
 * worker's OnOK and OnError path and every aio completion runs. argv[3] is the ceph.conf,
 * argv[4] a pool holding no image named `exercise`.
 */
import process from 'node:process';
import * as rbd from '../../native/rbd/index.js';

async function main(): Promise<void> {
  const iterations = Number(process.argv[2] ?? '50');
  const confPath = process.argv[3] ?? '';
  const pool = process.argv[4] ?? 'rbd';
  const swallow = () => undefined;
  const cluster = await rbd.connect({ confPath, timeoutMs: 60_000 });
  const head = await cluster.openImage(pool, 'exercise');
  const data = Buffer.alloc(64 * 1024, 7);
  for (let round = 0; round < iterations; round++) {
    const first = `a-${round}`;
    const second = `b-${round}`;
    await head.createSnapshot(first);
    await head.write((round % 16) * 65536, data);
    await head.discard(2 * 1024 * 1024, 65536);
    await head.createSnapshot(second);
    await head.protectSnapshot(second);
    await head.snapshots();
    await head.stat();
    const at = await cluster.openImage(pool, 'exercise', { snapName: second });
    await at.diff(first, 0, 4 * 1024 * 1024);
    await at.diff(null, 0, 4 * 1024 * 1024);
    await Promise.all([0, 1, 2, 3].map((index) => at.read(index * 65536, 65536)));
    await at.read(4 * 1024 * 1024 - 10, 100).catch(swallow); // past the end: short read
    await at.write(0, data).catch(swallow); // EROFS at a snapshot
    await at.close();
    await head.removeSnapshot(second).catch(swallow); // EBUSY: protected
    await head.unprotectSnapshot(second);
    await head.removeSnapshot(second);
    await head.removeSnapshot(first);
    await head.removeSnapshot(first).catch(swallow); // ENOENT
    await cluster.openImage(pool, 'missing').catch(swallow); // ENOENT
    await head.read(-1, 1).catch(swallow); // invalid argument
  }
  await head.close();
  await cluster.shutdown();
}

main().then(
  () => process.stdout.write('exercised\n'),
  (error: unknown) => {
    process.stderr.write(`${String(error)}\n`);
    process.exitCode = 1;
  },
);
