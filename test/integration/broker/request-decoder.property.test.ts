/**
 * Property: whatever bytes arrive as a request frame, the request router either answers or
 * refuses the frame with a `LogError` (malformed, unsupported, unauthenticated) — it never
 * throws anything else. Frames are mutations of real requests captured from kafkajs,
 * kcat (librdkafka) and kafka-python talking to the broker — every API they use, at the
 * versions each negotiates — plus noise.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { test } from 'node:test';
import fc from 'fast-check';
import { Kafka, logLevel } from 'kafkajs';
import { silentLogger } from '../../../log/broker/broker-logger.js';
import { GroupCoordinator } from '../../../log/broker/groups/group-coordinator.js';
import type {
  BrokerContext,
  ConnectionContext,
} from '../../../log/broker/handlers/request-context.js';
import { createRequestRouter } from '../../../log/broker/handlers/request-router.js';
import { startServer, type FrameHandler } from '../../../log/broker/server.js';
import { openBrokerStore } from '../../../log/broker/storage/broker-store.js';
import { KAFKA_DEFAULT_TOPIC_CONFIG } from '../../../log/broker/storage/topic-config.js';
import { LogError } from '../../../log/errors.js';
import { DEFAULT_LIMITS } from '../../../log/broker/broker.js';
import { tempDir } from '../../support/temp-dir.js';

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
const execFileAsync = promisify(execFile);

const REFUSALS = new Set([
  'EXTENTLOG_ERR_LOG_BROKER_MALFORMED_REQUEST',
  'EXTENTLOG_ERR_LOG_BROKER_UNSUPPORTED_REQUEST',
  'EXTENTLOG_ERR_LOG_BROKER_UNAUTHENTICATED_REQUEST',
]);

test('the request router answers or refuses any frame, never anything else', async (t) => {
  const dir = await tempDir(t, 'decoder-fuzz');
  const store = await openBrokerStore({ dataDir: dir.path });
  dir.beforeRemoval(() => store.close());
  const coordinator = new GroupCoordinator({
    store,
    logger: silentLogger,
    initialRebalanceDelayMs: 0,
    minSessionTimeoutMs: 1,
    maxSessionTimeoutMs: 600_000,
  });
  dir.beforeRemoval(() => coordinator.close());
  let port = 0;
  const closing = new AbortController();
  const context: BrokerContext = {
    nodeId: 0,
    clusterId: 'fuzz',
    advertised: () => ({ host: '127.0.0.1', port }),
    store,
    coordinator,
    topicDefaults: KAFKA_DEFAULT_TOPIC_CONFIG,
    autoCreateTopics: true,
    defaultPartitions: 1,
    sasl: undefined,
    requestsByApi: {},
    closing: closing.signal,
    logger: silentLogger,
  };
  const router = createRequestRouter(context);

  // Capture real frames: kafkajs runs through the APIs it speaks against this router.
  const captured: Buffer[] = [];
  const recorder: FrameHandler<ConnectionContext> = {
    openConnection: (endpoint) => router.openConnection(endpoint),
    handleFrame(frame, connection) {
      captured.push(Buffer.from(frame));
      return router.handleFrame(frame, connection);
    },
  };
  const server = await startServer({
    host: '127.0.0.1',
    port: 0,
    limits: DEFAULT_LIMITS,
    logger: silentLogger,
    handler: recorder,
  });
  dir.beforeRemoval(() => server.close());
  port = server.port;
  await exerciseWithKafkajs(`127.0.0.1:${port}`);
  await exerciseWithOtherClients(`127.0.0.1:${port}`);
  const apis = new Set(captured.map((frame) => `${frame.readInt16BE(0)}v${frame.readInt16BE(2)}`));
  assert.ok(apis.size >= 28, `captured only ${[...apis].join(' ')}`);

  // From here on, long polls and parked joins end at once: the property is about decoding.
  closing.abort();
  const connection = router.openConnection({
    id: 1,
    clientAddress: 'fuzz:1',
    remoteAddress: 'fuzz',
  });
  const mutation = fc.oneof(
    fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
    fc.record({
      kind: fc.constant('flip' as const),
      at: fc.nat(),
      byte: fc.integer({ min: 0, max: 255 }),
    }),
    fc.record({
      kind: fc.constant('int32' as const),
      at: fc.nat(),
      value: fc.oneof(fc.constantFrom(-1, -2, 0x7fffffff, -0x80000000, 0), fc.integer()),
    }),
    fc.record({ kind: fc.constant('version' as const), version: fc.integer({ min: -2, max: 20 }) }),
    fc.record({ kind: fc.constant('key' as const), key: fc.integer({ min: -2, max: 70 }) }),
  );
  const frameArbitrary = fc.oneof(
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes)) },
    {
      weight: 6,
      arbitrary: fc
        .tuple(fc.constantFrom(...captured), fc.array(mutation, { minLength: 1, maxLength: 4 }))
        .map(([frame, mutations]) => mutate(frame, mutations)),
    },
  );
  const counts = { answered: 0, refused: 0 };
  await fc.assert(
    fc.asyncProperty(frameArbitrary, async (frame) => {
      const outcome = await settle(() => router.handleFrame(frame, connection));
      counts[outcome.ok ? 'answered' : 'refused'] += 1;
      if (outcome.ok) return;
      assert.ok(
        outcome.error instanceof LogError && REFUSALS.has(outcome.error.code),
        `unexpected ${String(outcome.error)} for frame ${frame.toString('hex').slice(0, 120)}`,
      );
    }),
    { numRuns: 3000 },
  );
  t.diagnostic(
    `apis ${[...apis].sort().join(' ')}; ${counts.answered} answered, ${counts.refused} refused`,
  );
});

type Mutation =
  | { kind: 'truncate'; at: number }
  | { kind: 'flip'; at: number; byte: number }
  | { kind: 'int32'; at: number; value: number }
  | { kind: 'version'; version: number }
  | { kind: 'key'; key: number };

function mutate(original: Buffer, mutations: readonly Mutation[]): Buffer {
  let frame = Buffer.from(original);
  for (const m of mutations) {
    if (frame.length < 4) break;
    if (m.kind === 'truncate') frame = frame.subarray(0, m.at % frame.length);
    else if (m.kind === 'flip') frame[m.at % frame.length] = m.byte;
    else if (m.kind === 'int32' && frame.length >= 4)
      frame.writeInt32BE(m.value | 0, m.at % (frame.length - 3));
    else if (m.kind === 'version') frame.writeInt16BE(m.version, 2);
    else if (m.kind === 'key') frame.writeInt16BE(m.key, 0);
  }
  return frame;
}

/** Runs the handler; a request still parked after a moment (a group waiting) counts as answered. */
async function settle(
  run: () => Promise<unknown> | unknown,
): Promise<{ ok: true } | { ok: false; error: unknown }> {
  try {
    const result = run();
    if (!(result instanceof Promise)) return { ok: true };
    let timer: NodeJS.Timeout | undefined;
    const parked = new Promise<'parked'>((resolve) => {
      timer = setTimeout(() => resolve('parked'), 200);
    });
    try {
      await Promise.race([result, parked]);
    } finally {
      clearTimeout(timer);
    }
    return { ok: true };
  } catch (error) {
    return { ok: false, error };
  }
}

async function exerciseWithOtherClients(address: string): Promise<void> {
  const kcat = (args: readonly string[], input?: string) => {
    const child = execFileAsync('kcat', ['-b', address, ...args], { timeout: 60_000 });
    if (input !== undefined) child.child.stdin?.end(input);
    return child;
  };
  await kcat(['-L']);
  await kcat(['-P', '-t', 'fuzz-kcat', '-K', ':', '-X', 'enable.idempotence=true'], 'a:1\nb:2\n');
  await kcat(['-C', '-t', 'fuzz-kcat', '-o', 'beginning', '-e']);
  await kcat([
    '-G',
    'fuzz-kcat-group',
    '-o',
    'beginning',
    '-e',
    '-X',
    'enable.auto.commit=true',
    'fuzz-kcat',
  ]);
  const script = path.resolve(
    path.dirname(fileURLToPath(import.meta.url)),
    '../../../../test/python/kafka_python_client.py',
  );
  await execFileAsync(
    '/usr/bin/python3',
    [script, address, 'fuzz-python', 'fuzz-python-group', '3'],
    {
      timeout: 60_000,
    },
  );
}

async function exerciseWithKafkajs(address: string): Promise<void> {
  const kafka = new Kafka({ brokers: [address], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    topics: [
      { topic: 'fuzz', numPartitions: 2, configEntries: [{ name: 'retention.ms', value: '-1' }] },
    ],
  });
  await admin.createPartitions({ topicPartitions: [{ topic: 'fuzz', count: 3 }] });
  await admin.describeConfigs({ resources: [{ type: 2, name: 'fuzz' }], includeSynonyms: false });
  const producer = kafka.producer({ idempotent: true });
  await producer.connect();
  await producer.send({
    topic: 'fuzz',
    acks: -1,
    messages: [{ key: 'k', value: 'v' }, { value: 'w' }],
  });
  await producer.disconnect();
  await admin.fetchTopicOffsets('fuzz');
  await admin.fetchTopicOffsetsByTimestamp('fuzz', Date.now() - 1000);
  const consumer = kafka.consumer({ groupId: 'fuzz-group', maxWaitTimeInMs: 50 });
  await consumer.connect();
  await consumer.subscribe({ topic: 'fuzz', fromBeginning: true });
  let seen = 0;
  await new Promise<void>((resolve) => {
    void consumer.run({
      eachMessage: async () => {
        if (++seen === 2) resolve();
      },
    });
  });
  await consumer.commitOffsets([{ topic: 'fuzz', partition: 0, offset: '1' }]);
  await admin.describeGroups(['fuzz-group']);
  await consumer.disconnect();
  await admin.listGroups();
  await admin.fetchOffsets({ groupId: 'fuzz-group', topics: ['fuzz'] });
  await admin.deleteGroups(['fuzz-group']);
  await admin.createTopics({ topics: [{ topic: 'fuzz-doomed' }] });
  await admin.deleteTopics({ topics: ['fuzz-doomed'] });
  await admin.disconnect();
}
