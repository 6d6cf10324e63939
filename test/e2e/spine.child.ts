/**
 * A child extentlog process for the crash tests: it builds the runtime from a configuration
 * (pointing at a broker and registry the parent runs) with either the feeds or the targets
 * only, talks to the parent over the IPC channel of `fork`, and is killed with SIGKILL.
 *
 *   node spine.child.js <spec.json>   (started by spine-processes.ts)
 *
 * Role 'targets': replays into file targets. Each target is wrapped so that at every
 * commitEpoch (after the engine's flush, before the restore point is published) it hashes the
 * image and appends `{target, disk, epoch, sha256}` as a line to `hashLog`: what the
 * image really held when its restore point was about to be announced.
 * Role 'feed': runs the feeds; `{cmd: 'sync'}` runs a cycle of every disk and answers
 * `{event: 'synced', results}` (or `{event: 'failed', message}`).
 */
import { open, readFile } from 'node:fs/promises';
import process from 'node:process';
import { destination, pino } from 'pino';
import { parseConfig } from '../../bin/config/load-config.js';
import { startRuntime } from '../../bin/runtime.js';
import { pathTemplate } from '../../consumers/file/path-template.js';
import type { Target, TargetDisk } from '../../consumers/target.js';
import { sha256OfFile } from '../support/image-files.js';
import type {
  ChildEvent,
  ChildRequest,
  CommitHash,
  SpineChildSpec,
} from '../support/spine-processes.js';

async function appendDurably(file: string, line: string): Promise<void> {
  const handle = await open(file, 'a');
  try {
    await handle.write(line);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function hashingTarget(
  name: string,
  inner: Target,
  pathFor: ReturnType<typeof pathTemplate>,
  hashLog: string,
): Target {
  return {
    kind: inner.kind,
    async openDisk(info) {
      const disk = await inner.openDisk(info);
      const wrapped: TargetDisk = {
        beginEpoch: (begin) => disk.beginEpoch(begin),
        apply: (extent) => disk.apply(extent),
        flush: () => disk.flush(),
        async commitEpoch(commit) {
          const location = await disk.commitEpoch(commit);
          const sha256 = await sha256OfFile(pathFor(info));
          const entry: CommitHash = {
            target: name,
            disk: info.diskId,
            epoch: commit.epoch,
            sha256,
          };
          await appendDurably(hashLog, `${JSON.stringify(entry)}\n`);
          return location;
        },
        close: () => disk.close(),
      };
      return wrapped;
    },
    close: () => inner.close(),
  };
}

async function main(): Promise<void> {
  const specPath = process.argv[2];
  if (specPath === undefined) throw new Error('usage: spine.child.js <spec.json>');
  const spec = JSON.parse(await readFile(specPath, 'utf8')) as SpineChildSpec;
  const config = parseConfig(spec.config, specPath);
  const logger = pino({ level: 'info' }, destination({ dest: spec.logPath, sync: true }));
  const templates = new Map(
    config.targets.flatMap((target) =>
      target.type === 'file' ? [[target.name, target.path]] : [],
    ),
  );
  const runtime = await startRuntime(config, logger, {
    feeds: spec.role === 'feed',
    targets: spec.role === 'targets',
    decorateTarget: (name, target) =>
      hashingTarget(name, target, pathTemplate(templates.get(name)!), spec.hashLog!),
  });
  const send = (event: ChildEvent) => process.send?.(event);
  process.on('message', (request: ChildRequest) => {
    if (request.cmd !== 'sync') return;
    const feeds = [...runtime.feeds.values()];
    Promise.all(feeds.map((feed) => feed.syncNow()))
      .then((results) =>
        send({
          event: 'synced',
          epochs: results.flat().map((result) => result.committed?.epoch ?? null),
        }),
      )
      .catch((error: unknown) => send({ event: 'failed', message: (error as Error).message }));
  });
  process.on('SIGTERM', () => {
    void runtime.close().finally(() => process.exit(0));
  });
  send({ event: 'ready' });
}

main().catch((error: unknown) => {
  process.stderr.write(`spine child failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
