/**
 * Bad input stops one disk, never the target: records with a wrong CRC, a sequence gap, an
 * unknown schema id and a corrupt frame are injected into the partitions of four disks with a
 * plain producer. Each of those disks stops with an error naming disk, seq and log offset,
 * its committed offset stays at or below the bad record, and a fifth disk of the same target
 * keeps replicating to equality. A source truncated mid-cycle fails the cycle with a
 * SourceError naming disk, path and offset; nothing is committed and the next cycle recovers.
 */
import assert from 'node:assert/strict';
import { open, truncate } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { parseConfig } from '../../bin/config/load-config.js';
import { extentsTopic, replayGroupId, startRuntime, type Runtime } from '../../bin/runtime.js';
import { SourceError } from '../../producers/errors.js';
import { readDiskPosition } from '../../producers/feed-position.js';
import { extentCrc32c } from '../../schemas/extent-crc.js';
import { createRecordCodec } from '../../schemas/record-codec.js';
import { eventually } from '../support/eventually.js';
import { patternBytes, sha256OfFile, writeAt } from '../support/image-files.js';
import { silentLogger } from '../support/silent-logger.js';
import { tempDir } from '../support/temp-dir.js';
import { feedEntry, fileTargetEntry, MiB } from '../support/spine-configs.js';

const TOPIC = extentsTopic('extentlog', 'vm1');

async function image(file: string, sizeBytes: number, dataBytes: number, seed: number) {
  await (await open(file, 'w')).close();
  await truncate(file, sizeBytes);
  await writeAt(file, 0, patternBytes(dataBytes, seed));
}

function diskStatus(runtime: Runtime, diskId: string) {
  return runtime.replays
    .get('mirror')!
    .status()
    .disks.find((disk) => disk.diskId === diskId);
}

async function converged(runtime: Runtime, diskId: string, epoch: number) {
  await eventually(`${diskId} at epoch ${epoch}`, () => {
    const status = diskStatus(runtime, diskId);
    if (status?.lastError) throw new Error(`${diskId} stopped: ${status.lastError.message}`);
    return (status?.lastRestorePoint?.epoch ?? 0) >= epoch ? true : undefined;
  });
}

test('a bad record stops its disk with a clear error while another disk keeps replicating', async (t) => {
  const dir = await tempDir(t, 'bad-input');
  const disks = ['good', 'crc', 'gap', 'schema', 'frame'];
  const sources = new Map(disks.map((id) => [id, path.join(dir.path, `${id}.img`)]));
  for (const [index, id] of disks.entries()) await image(sources.get(id)!, 4 * MiB, MiB, index + 1);
  const runtime = await startRuntime(
    parseConfig(
      {
        dataDir: path.join(dir.path, 'data'),
        feeds: [
          feedEntry(
            'vm1',
            disks.map((id) => ({ id, path: sources.get(id)! })),
          ),
        ],
        targets: [fileTargetEntry('mirror', ['vm1'], path.join(dir.path, 'target', '{disk}.img'))],
      },
      'bad input config',
    ),
    silentLogger,
  );
  dir.beforeRemoval(() => runtime.close());
  const vm1 = runtime.feeds.get('vm1')!;
  const first = await vm1.syncNow();
  for (const id of disks) await converged(runtime, id, first[0]!.committed!.epoch);

  const codec = createRecordCodec({ registry: runtime.registry, subject: `${TOPIC}-value` });
  await codec.register();
  const producer = await runtime.log.producer();
  t.after(() => producer.close());
  const partitionOf = new Map(
    vm1.status().disks.map((disk) => [disk.diskId, disk.partition!] as const),
  );
  const bad = new Map<string, { offset: number; seq: number | null; message: RegExp }>();
  for (const id of disks.slice(1)) {
    const partition = partitionOf.get(id)!;
    const position = await readDiskPosition({
      log: runtime.log,
      decoder: codec,
      topic: TOPIC,
      partition,
      diskId: id,
    });
    const seq = position.nextSeq;
    const envelope = { feed: 'vm1', disk: id, epoch: position.nextEpoch };
    const values: Buffer[] = [];
    let badSeq: number | null = seq;
    let message: RegExp;
    if (id === 'crc') {
      values.push(
        codec.encode({
          ...envelope,
          type: 'sync-begin',
          seq,
          mode: 'INCREMENTAL',
          diskSizeBytes: 4 * MiB,
          blockSizeBytes: 4096,
          sourceReference: 'injected',
          baseEpoch: position.committed!.epoch,
          baseReference: position.committed!.reference,
          rebaselineReason: null,
          startedAtMs: Date.now(),
        }),
      );
      const data = Buffer.alloc(4096, 7);
      const extent = { ...envelope, seq: seq + 1, offsetBytes: 0, lengthBytes: 4096 };
      const crc32c = extentCrc32c({ ...extent, op: 'WRITE', data }) ^ 1;
      values.push(
        codec.encode({
          ...extent,
          type: 'extent',
          op: 'WRITE',
          data,
          crc32c: crc32c >>> 0,
          issuedAtNs: 0n,
          completedAtNs: 0n,
          provenance: { changeId: null, snapshotId: null, journalSeq: null },
        }),
      );
      badSeq = seq + 1;
      message = /CRC mismatch on disk crc seq \d+/;
    } else if (id === 'gap') {
      badSeq = seq + 5;
      values.push(
        codec.encode({
          ...envelope,
          type: 'heartbeat',
          seq: badSeq,
          lastCommittedEpoch: position.committed!.epoch,
          sentAtMs: Date.now(),
        }),
      );
      message = new RegExp(`sequence gap on disk gap .*expected seq ${seq}, received ${badSeq}`);
    } else if (id === 'schema') {
      const frame = codec.encode({
        ...envelope,
        type: 'heartbeat',
        seq,
        lastCommittedEpoch: null,
        sentAtMs: Date.now(),
      });
      frame.writeUInt32BE(987_654, 1); // a schema id the registry never issued
      values.push(frame);
      badSeq = null;
      message = /disk schema of feed vm1: .*cannot be decoded/;
    } else {
      values.push(Buffer.from('not a Confluent frame at all'));
      badSeq = null;
      message = /disk frame of feed vm1: .*cannot be decoded/;
    }
    const result = await producer.send(
      TOPIC,
      partition,
      values.map((value) => ({ key: Buffer.from(id), value })),
    );
    bad.set(id, { offset: result.baseOffset + values.length - 1, seq: badSeq, message });
  }

  // The good disk goes on through another cycle while the bad ones stop.
  await writeAt(sources.get('good')!, 2 * MiB, patternBytes(MiB, 99));
  const [good] = await vm1.syncNow(['good']);
  await converged(runtime, 'good', good!.committed!.epoch);
  assert.equal(
    await sha256OfFile(path.join(dir.path, 'target', 'good.img')),
    await sha256OfFile(sources.get('good')!),
  );
  for (const [id, expected] of bad) {
    const error = await eventually(
      `disk ${id} stops`,
      () => diskStatus(runtime, id)?.lastError ?? undefined,
    );
    assert.match(error.message, expected.message, `disk ${id}: ${error.message}`);
    assert.match(error.message, new RegExp(`log offset ${expected.offset}\\b`), error.message);
    if (expected.seq !== null)
      assert.match(error.message, new RegExp(`(seq|received) ${expected.seq}\\b`), error.message);
    const committed = (
      await runtime.log.admin.groupOffsets(replayGroupId('extentlog', 'mirror'), TOPIC)
    ).partitions.find((entry) => entry.partition === partitionOf.get(id));
    assert.ok(
      (committed?.offset ?? -1) <= expected.offset,
      `disk ${id}: committed offset ${committed?.offset} does not pass the bad record at ${expected.offset}`,
    );
  }
});

test('a source truncated mid-cycle fails the cycle with a SourceError; the next cycle recovers', async (t) => {
  const dir = await tempDir(t, 'truncated-source');
  const source = path.join(dir.path, 'disk.img');
  await image(source, 48 * MiB, 40 * MiB, 5);
  const runtime = await startRuntime(
    parseConfig(
      {
        dataDir: path.join(dir.path, 'data'),
        feeds: [feedEntry('vm1', [{ id: 'disk-0', path: source }])],
        targets: [fileTargetEntry('mirror', ['vm1'], path.join(dir.path, 'target', '{disk}.img'))],
      },
      'truncation config',
    ),
    silentLogger,
  );
  dir.beforeRemoval(() => runtime.close());
  const vm1 = runtime.feeds.get('vm1')!;
  const endOffset = async () =>
    (await runtime.log.admin.offsets(TOPIC)).find((entry) => entry.partition === 0)?.endOffset ?? 0;
  const before = await endOffset();
  const cycle = vm1.syncNow();
  cycle.catch(() => undefined);
  await eventually('the cycle is under way', async () =>
    (await endOffset()) > before + 1 ? true : undefined,
  );
  await truncate(source, 4 * MiB);
  const error = await cycle.then(
    () => assert.fail('the cycle of a truncated source committed'),
    (failure: unknown) => failure,
  );
  assert.ok(error instanceof SourceError, String(error));
  assert.match(error.code, /EXTENTLOG_ERR_SOURCE_(TRUNCATED|SIZE_CHANGED)/);
  assert.match(error.message, /disk disk-0: .*disk\.img .*at offset \d+/);
  const codec = createRecordCodec({ registry: runtime.registry, subject: `${TOPIC}-value` });
  const position = await readDiskPosition({
    log: runtime.log,
    decoder: codec,
    topic: TOPIC,
    partition: 0,
    diskId: 'disk-0',
  });
  assert.equal(position.committed, null, 'nothing was committed');

  await truncate(source, 48 * MiB);
  const [result] = await vm1.syncNow();
  assert.ok(result?.committed, 'the next cycle committed');
  await converged(runtime, 'disk-0', result.committed.epoch);
  assert.equal(
    await sha256OfFile(path.join(dir.path, 'target', 'disk-0.img')),
    await sha256OfFile(source),
  );
});
