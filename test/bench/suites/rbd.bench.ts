/**
 * The rbd source's incremental cycle next to Ceph's own tool for the same job, on the
 * single-node cluster (memstore), for the same change in the same run:
 * - ours: take an RBD snapshot, `rbd_diff_iterate2` from the previous one, read every changed
 *   extent with `rbd_aio_read` (8 reads of 1 MiB in flight, as the feed reads by default) and
 *   write it into a local replica file, then drop the previous snapshot;
 * - peer: `rbd snap create` and `rbd export-diff --from-snap … | rbd import-diff` into a
 *   second image.
 * Each round writes a fresh random change with `rbd bench`; times are medians of the rounds.
 * MB/s is changed bytes (as the diff reports them) per second.
 */
import { execFile } from 'node:child_process';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { createCephConnection } from '../../../producers/rbd/ceph-connection.js';
import { createDirectSnapshots } from '../../../producers/rbd/direct-snapshots.js';
import { createRbdSource } from '../../../producers/rbd/rbd-source.js';
import type { ChangeSet, CommittedReference } from '../../../producers/source.js';
import { startRbdCluster } from '../../support/rbd-cluster.js';
import {
  MiB,
  median,
  seconds,
  throughputRow,
  timeRow,
  type BenchContext,
  type BenchRow,
  type BenchSuite,
} from '../harness.js';

const run = promisify(execFile);
const READ_BYTES = MiB;
const READS_IN_FLIGHT = 8;

/** Reads every WRITE of a cycle, READS_IN_FLIGHT at a time, into the replica; zeroes ZEROs. */
async function applyCycle(changeSet: ChangeSet, replicaPath: string): Promise<number> {
  const replica = await open(replicaPath, 'r+');
  let changedBytes = 0;
  const pieces: { offsetBytes: number; lengthBytes: number; zero: boolean }[] = [];
  try {
    for await (const item of changeSet.changes()) {
      if (item.kind !== 'extent') continue;
      changedBytes += item.lengthBytes;
      for (let done = 0; done < item.lengthBytes; done += READ_BYTES)
        pieces.push({
          offsetBytes: item.offsetBytes + done,
          lengthBytes: Math.min(READ_BYTES, item.lengthBytes - done),
          zero: item.op !== 'WRITE',
        });
    }
    let next = 0;
    const worker = async () => {
      while (next < pieces.length) {
        const piece = pieces[next++]!;
        const data = piece.zero
          ? Buffer.alloc(piece.lengthBytes)
          : await changeSet.reader.read(piece.offsetBytes, piece.lengthBytes);
        await replica.write(data, 0, data.length, piece.offsetBytes);
      }
    };
    await Promise.all(Array.from({ length: READS_IN_FLIGHT }, worker));
  } finally {
    await replica.close();
  }
  return changedBytes;
}

export const suite: BenchSuite = {
  name: 'rbd-source',
  async run({ workDir, scale, log }: BenchContext): Promise<BenchRow[]> {
    const sizeBytes = Math.max(64, Math.round(512 * scale)) * MiB;
    const changeBytes = sizeBytes / 8;
    const rounds = 3;
    log('starting a single-node Ceph cluster');
    const ceph = await startRbdCluster(['rbd']);
    const connection = createCephConnection({ confPath: ceph.confPath });
    try {
      const spec = 'rbd/bench';
      await ceph.rbd(['create', '--size', `${sizeBytes / MiB}M`, spec]);
      await ceph.rbd(['create', '--size', `${sizeBytes / MiB}M`, 'rbd/bench-mirror']);
      log(`filling the ${sizeBytes / MiB} MiB image`);
      await ceph.bench(spec, 'seq', sizeBytes);
      const source = createRbdSource({
        connection,
        snapshots: createDirectSnapshots([{ diskId: 'bench', pool: 'rbd', image: 'bench' }], () =>
          connection.cluster(),
        ),
        logger: pino({ level: 'silent' }),
      });
      const [disk] = await source.disks();
      if (disk === undefined) throw new Error('no disk');
      const replicaPath = path.join(workDir, 'replica.img');
      await (await open(replicaPath, 'w')).close();

      // Baselines: a FULL cycle for us, a full export-diff for the peer.
      const full = await source.open(disk, null);
      await applyCycle(full, replicaPath);
      await full.commit();
      let since: CommittedReference = { epoch: 1, reference: full.reference };
      const pipe = (from: string | null, to: string) =>
        run('bash', [
          '-c',
          `set -o pipefail; rbd -c ${ceph.confPath} export-diff ${from === null ? '' : `--from-snap ${from}`} ${spec}@${to} - | rbd -c ${ceph.confPath} import-diff - rbd/bench-mirror`,
        ]);
      await ceph.rbd(['snap', 'create', `${spec}@peer-0`]);
      await pipe(null, 'peer-0');

      const ours: number[] = [];
      const peer: number[] = [];
      let changedBytes = 0;
      for (let round = 1; round <= rounds; round++) {
        log(`round ${round}: ${changeBytes / MiB} MiB of random 64 KiB writes`);
        await ceph.bench(spec, 'rand', changeBytes);
        const measureOurs = async () => {
          ours.push(
            await seconds(async () => {
              const cycle = await source.open(disk, since);
              if (cycle.mode !== 'INCREMENTAL') throw new Error(`cycle was ${cycle.mode}`);
              changedBytes = await applyCycle(cycle, replicaPath);
              await cycle.commit();
              since = { epoch: round + 1, reference: cycle.reference };
            }),
          );
        };
        const measurePeer = async () => {
          peer.push(
            await seconds(async () => {
              await ceph.rbd(['snap', 'create', `${spec}@peer-${round}`]);
              await pipe(`peer-${round - 1}`, `peer-${round}`);
            }),
          );
        };
        // Alternate who goes first, so that neither always finds the OSD's caches warm.
        if (round % 2 === 1) await measureOurs().then(measurePeer);
        else await measurePeer().then(measureOurs);
      }
      await source.close();
      const oursSeconds = median(ours);
      const peerSeconds = median(peer);
      const MB = 1e6;
      return [
        timeRow(
          `incremental cycle, ${changeBytes / MiB} MiB random writes in a ${sizeBytes / MiB} MiB image`,
          oursSeconds,
          { name: 'rbd export-diff piped to import-diff', seconds: peerSeconds },
          { atLeast: 1 },
        ),
        throughputRow(
          `changed bytes per second (${(changedBytes / MiB).toFixed(0)} MiB in the diff)`,
          changedBytes / MB / oursSeconds,
          { name: 'rbd export-diff piped to import-diff', MBps: changedBytes / MB / peerSeconds },
          { atLeast: 1 },
        ),
      ];
    } finally {
      await connection.close();
      await ceph.stop();
    }
  },
};
