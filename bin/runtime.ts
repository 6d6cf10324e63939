/**
 * The composition root of an extentlog process: from a validated configuration it starts
 * the embedded broker and registry (when no Kafka is configured), the log client, the
 * codecs, every feed and every target's replay. It is the only place that constructs
 * adapters; everything else receives what it needs.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { Logger } from 'pino';
import { describeError } from '../errors/extentlog-error.js';
import { createLogClient, type DriverLogClient } from '../log/client-factory.js';
import { openControlChannel, type ControlChannel } from '../log/control-channel.js';
import { createRecordCodec, type RecordCodec } from '../schemas/record-codec.js';
import { createRestorePointCodec, type RestorePointCodec } from '../schemas/restore-point-codec.js';
import type { RestorePoint } from '../schemas/restore-point.js';
import { createFeed, type Feed } from '../producers/feed.js';
import { createImageSource } from '../producers/image/image-source.js';
import { createEbsSource } from '../producers/ebs/ebs-source.js';
import { OciClient } from '../producers/oci/oci-client.js';
import { OciRequestSigner } from '../producers/oci/oci-request-signer.js';
import { createOciSource } from '../producers/oci/oci-source.js';
import { createQemuSource } from '../producers/qemu/qemu-source.js';
import { createVmwareSource } from '../producers/vmware/vmware-source.js';
import { createKernelJournalSource } from '../producers/kernel-journal/kernel-journal-source.js';
import { openKernelJournal } from '../native/kjournal/index.js';
import type { ChangeSource } from '../producers/source.js';
import { createEbsTarget } from '../consumers/ebs/ebs-target.js';
import { createFileTarget } from '../consumers/file/file-target.js';
import { createIscsiTarget, lunTable } from '../consumers/iscsi/iscsi-target.js';
import { pathTemplate } from '../consumers/file/path-template.js';
import { createReplay, type Replay } from '../consumers/replay.js';
import {
  createRestorePointWriter,
  readRestorePoints,
  type RestorePointWriter,
} from '../consumers/restore-points.js';
import type { Target } from '../consumers/target.js';
import { createAwsAccess } from './aws-clients.js';
import { readBearerTokenFile } from '../status/bearer-token.js';
import { startStatusServer } from '../status/status-server.js';
import { startEmbedded, type EmbeddedServices } from './embedded.js';
import { buildRbdSource } from './rbd-source.js';
import { readSecretFile } from './config/secret-file.js';
import { buildS3Target } from './s3-target.js';
import { ConfigError } from './errors.js';
import type { ExtentlogConfig, FeedConfig, StatusConfig, TargetConfig } from './config/schema.js';
import { createRuntimeStatusModel } from './status-read-model.js';

const MiB = 1024 * 1024;

export interface Runtime {
  readonly config: ExtentlogConfig;
  /** The log port, and which driver serves it. */
  readonly log: DriverLogClient;
  readonly registry: SchemaRegistry;
  readonly embedded: EmbeddedServices | null;
  readonly feeds: ReadonlyMap<string, Feed>;
  readonly replays: ReadonlyMap<string, Replay>;
  readonly targets: ReadonlyMap<string, Target>;
  readonly restorePointCodec: RestorePointCodec;
  readonly restorePointsTopic: string;
  /** The latest restore point per `<target>/<feed>/<disk>`, read from the log now. */
  restorePoints(): Promise<Map<string, RestorePoint>>;
  /** The status API, when the configuration (or `RuntimeOptions.status`) enables it. */
  readonly status: { readonly url: string } | null;
  close(): Promise<void>;
}

export function extentsTopic(prefix: string, feed: string): string {
  return `${prefix}.${feed}.extents`;
}

export function restorePointsTopic(prefix: string): string {
  return `${prefix}.restore-points`;
}

export function replayGroupId(prefix: string, target: string): string {
  return `${prefix}.target.${target}`;
}

/** A (non-secret) file a source setting names, such as a CA bundle, read at start-up. */
function readSetting(feed: FeedConfig, setting: string, filePath: string): Buffer {
  try {
    return readFileSync(filePath);
  } catch (error) {
    throw new ConfigError(
      'EXTENTLOG_ERR_CONFIG_READ',
      `feed ${feed.name}: source.${setting} ${filePath} cannot be read: ${describeError(error)}`,
      { cause: error, details: { feed: feed.name, setting, path: filePath } },
    );
  }
}

function buildSource(feed: FeedConfig, config: ExtentlogConfig, logger: Logger): ChangeSource {
  const source = feed.source;
  switch (source.type) {
    case 'image':
      return createImageSource({
        disks: source.disks.map((disk) => ({ diskId: disk.id, path: disk.path })),
        stateDir: source.stateDir ?? path.join(config.dataDir, 'state', feed.name),
        blockSizeBytes: source.blockSizeBytes,
        ...(source.hashAlgorithm === undefined ? {} : { hashAlgorithm: source.hashAlgorithm }),
        ...(source.detectHoles === undefined ? {} : { detectHoles: source.detectHoles }),
        logger: logger.child({ feed: feed.name, source: 'image' }),
      });
    case 'oci': {
      const setting = `feeds.${feed.name}.source`;
      const sourceLogger = logger.child({ feed: feed.name, source: 'oci' });
      const signer = new OciRequestSigner({
        tenancyId: source.tenancyId,
        userId: source.userId,
        privateKeyPem: readSecretFile(source.privateKeyFile, `${setting}.privateKeyFile`),
        ...(source.passphraseFile === undefined
          ? {}
          : { passphrase: readSecretFile(source.passphraseFile, `${setting}.passphraseFile`) }),
        ...(source.fingerprint === undefined ? {} : { fingerprint: source.fingerprint }),
      });
      return createOciSource({
        client: new OciClient({
          endpoint: source.endpoint,
          signer,
          pollIntervalMs: source.pollIntervalMs,
          operationTimeoutMs: source.operationTimeoutMs,
          logger: sourceLogger,
        }),
        volumeGroupId: source.volumeGroupId,
        compartmentId: source.compartmentId,
        availabilityDomain: source.availabilityDomain,
        instanceId: source.instanceId,
        disks: source.disks.map((disk) => ({ diskId: disk.id, volumeId: disk.volumeId })),
        changeBlockSizeBytes: source.changeBlockSizeBytes,
        ...(source.scanWindowBytes === undefined
          ? {}
          : { scanWindowBytes: source.scanWindowBytes }),
        initiatorIqn: source.initiatorIqn,
        logger: sourceLogger,
      });
    }
    case 'qemu':
      return createQemuSource({
        disks: source.disks.map((disk) =>
          disk.image !== undefined
            ? { diskId: disk.id, image: disk.image }
            : {
                diskId: disk.id,
                qmpSocket: disk.qmpSocket!,
                node: disk.node!,
                ...(disk.nbdSocket === undefined ? {} : { nbdSocket: disk.nbdSocket }),
              },
        ),
        workDir: source.workDir ?? path.join(config.dataDir, 'qemu', feed.name),
        bitmapGranularityBytes: source.bitmapGranularityBytes,
        persistentBitmaps: source.persistentBitmaps,
        nbdConnections: source.nbdConnections,
        maxRequestBytes: source.maxRequestBytes,
        logger: logger.child({ feed: feed.name, source: 'qemu' }),
      });
    case 'vmware': {
      // Secrets come from files, read once here; they never reach the logs.
      const password = readSecretFile(
        source.passwordFile,
        `feeds.${feed.name}.source.passwordFile`,
      );
      const reader = source.snapshotReader;
      return createVmwareSource({
        connection: {
          url: source.url,
          username: source.username,
          password,
          ...(source.caFile === undefined
            ? {}
            : { ca: readSetting(feed, 'caFile', source.caFile) }),
          ...(source.thumbprint === undefined ? {} : { thumbprint: source.thumbprint }),
          rejectUnauthorized: source.rejectUnauthorized,
        },
        disks: source.disks.map((disk) => ({
          diskId: disk.id,
          vm: disk.vm,
          ...(disk.disk === undefined ? {} : { disk: disk.disk }),
        })),
        snapshotReader:
          reader.type === 'command'
            ? reader
            : {
                ...reader,
                user: reader.user ?? source.username,
                passwordFile: reader.passwordFile ?? source.passwordFile,
              },
        workDir: source.workDir ?? path.join(config.dataDir, 'vmware', feed.name),
        blockSizeBytes: source.blockSizeBytes,
        quiesce: source.quiesce,
        nbdConnections: source.nbdConnections,
        maxRequestBytes: source.maxRequestBytes,
        logger: logger.child({ feed: feed.name, source: 'vmware' }),
      });
    }
    case 'rbd':
      return buildRbdSource(
        source,
        (setting, filePath) => readSecretFile(filePath, `feeds.${feed.name}.source.${setting}`),
        logger.child({ feed: feed.name, source: 'rbd' }),
      );
    case 'kernel-journal':
      return createKernelJournalSource({
        disks: source.disks.map((disk) => ({
          diskId: disk.id,
          journalPath: disk.journal,
          cowStorePath: disk.cowStore,
        })),
        openJournal: openKernelJournal,
        ...(source.chunkBytes === undefined ? {} : { chunkBytes: source.chunkBytes }),
        ...(source.consistencyIntervalMs === undefined
          ? {}
          : { intervalMs: source.consistencyIntervalMs }),
        ...(source.barrierMinIntervalMs === undefined
          ? {}
          : { barrierMinIntervalMs: source.barrierMinIntervalMs }),
        logger: logger.child({ feed: feed.name, source: 'kernel-journal' }),
      });
    case 'ebs': {
      const sourceLogger = logger.child({ feed: feed.name, source: 'ebs' });
      const aws = createAwsAccess(source, source.readConcurrency, sourceLogger);
      const ebsSource = createEbsSource({
        feed: feed.name,
        ...(source.volumes === undefined
          ? {}
          : {
              volumes: source.volumes.map((volume) => ({
                volumeId: volume.id,
                ...(volume.diskId === undefined ? {} : { diskId: volume.diskId }),
              })),
            }),
        ...(source.instance === undefined
          ? {}
          : {
              instance: {
                instanceId: source.instance.id,
                excludeBootVolume: source.instance.excludeBootVolume,
              },
            }),
        ebs: aws.ebs,
        ec2: aws.ec2,
        caller: aws.caller,
        polling: aws.polling,
        readConcurrency: source.readConcurrency,
        ...(source.maxHeldBlocks === undefined ? {} : { maxHeldBlocks: source.maxHeldBlocks }),
        maxResults: source.maxResults,
        logger: sourceLogger,
      });
      return {
        ...ebsSource,
        close: async () => {
          await ebsSource.close();
          aws.close();
        },
      };
    }
  }
}

/**
 * The target a configuration describes (the commands that read restore points back use it
 * too). `dataDir` is the process's data directory, for a target's local state.
 */
export async function buildTarget(
  target: TargetConfig,
  logger: Logger,
  dataDir = './data',
): Promise<Target> {
  switch (target.type) {
    case 'ebs': {
      const targetLogger = logger.child({ target: target.name });
      const aws = createAwsAccess(
        target,
        Math.max(target.putConcurrency, target.readConcurrency),
        targetLogger,
      );
      const ebsTarget = createEbsTarget({
        name: target.name,
        ebs: aws.ebs,
        ec2: aws.ec2,
        caller: aws.caller,
        polling: aws.polling,
        stagingDir: target.stagingDir ?? path.join(dataDir, 'ebs-staging', target.name),
        putConcurrency: target.putConcurrency,
        readConcurrency: target.readConcurrency,
        snapshotTimeoutMinutes: target.snapshotTimeoutMinutes,
        logger: targetLogger,
      });
      return {
        ...ebsTarget,
        close: async () => {
          await ebsTarget.close();
          aws.close();
        },
      };
    }
    case 'file':
      return createFileTarget({
        pathFor: pathTemplate(target.path),
        createFiles: target.createFiles,
        zeroing: target.zeroing,
        logger: logger.child({ target: target.name }),
      });
    case 'iscsi': {
      const credentials = (chap: { username: string; secretFile: string }, setting: string) => ({
        username: chap.username,
        secret: readSecretFile(chap.secretFile, `targets.${target.name}.${setting}.secretFile`),
      });
      return createIscsiTarget({
        lunFor: lunTable(target.portal, target.luns),
        initiatorIqn: target.initiatorIqn,
        ...(target.chap === undefined ? {} : { chap: credentials(target.chap, 'chap') }),
        ...(target.mutualChap === undefined
          ? {}
          : { targetChap: credentials(target.mutualChap, 'mutualChap') }),
        commandTimeoutMs: target.commandTimeoutMs,
        connectTimeoutMs: target.connectTimeoutMs,
        reconnectTimeoutMs: target.reconnectTimeoutMs,
        maxWriteBytes: target.maxWriteBytes,
        maxInFlightBytes: target.maxInFlightBytes,
        logger: logger.child({ target: target.name }),
      });
    }
    case 's3':
      return (await buildS3Target(target, logger)).target;
  }
}

export interface RuntimeOptions {
  /** Start the feeds (default true). */
  readonly feeds?: boolean;
  /** Start the targets' replays (default true). */
  readonly targets?: boolean;
  /** Wraps each target as it is built (instrumentation around the real adapter). */
  readonly decorateTarget?: (name: string, target: Target) => Target;
  /** Wraps (or replaces) each feed's source as it is built (fault injection in tests). */
  readonly decorateSource?: (feed: string, source: ChangeSource) => ChangeSource;
  /**
   * The status API: false keeps it off; settings override the configuration's `status`
   * section (a test's `{ port: 0 }`). Default: as the configuration says.
   */
  readonly status?: false | Partial<StatusConfig>;
}

const STATUS_DEFAULTS = {
  enabled: true,
  host: '127.0.0.1',
  port: 0,
  sampleIntervalMs: 1000,
  historySamples: 900,
} as const satisfies StatusConfig;

/** The status settings in force, or null when the status API stays off. */
function statusSettings(config: ExtentlogConfig, options: RuntimeOptions): StatusConfig | null {
  if (options.status === false) return null;
  if (config.status === undefined && options.status === undefined) return null;
  const settings = { ...STATUS_DEFAULTS, ...config.status, ...options.status };
  return settings.enabled ? settings : null;
}

export async function startRuntime(
  config: ExtentlogConfig,
  logger: Logger,
  options: RuntimeOptions = {},
): Promise<Runtime> {
  const closers: (() => Promise<unknown>)[] = [];
  const close = async () => {
    for (const closer of closers.splice(0).reverse()) {
      await closer().catch((error: unknown) => logger.warn({ err: error }, 'shutdown step failed'));
    }
  };
  try {
    // The token first: a bad token file stops the process before anything starts.
    const status = statusSettings(config, options);
    const token: string | null =
      status?.tokenFile === undefined ? null : await readBearerTokenFile(status.tokenFile);
    let embedded: EmbeddedServices | null = null;
    if (config.kafka === undefined) {
      embedded = await startEmbedded({
        dataDir: config.dataDir,
        host: config.embedded.host,
        port: config.embedded.port,
        registryPort: config.embedded.registryPort,
        logger,
      });
      closers.push(() => embedded!.close());
      logger.info(
        { broker: embedded.brokerAddress, registry: embedded.registryUrl },
        'embedded broker and schema registry started',
      );
    }
    const log = await createLogClient({
      connection:
        config.kafka === undefined
          ? { brokers: [embedded!.brokerAddress], clientId: 'extentlog' }
          : {
              brokers: config.kafka.brokers,
              clientId: config.kafka.clientId,
              connectionTimeoutMs: config.kafka.connectionTimeoutMs,
              requestTimeoutMs: config.kafka.requestTimeoutMs,
              ...(config.kafka.sasl === undefined ? {} : { sasl: config.kafka.sasl }),
              ...(config.kafka.tls === undefined ? {} : { tls: config.kafka.tls }),
            },
      logger: logger.child({ component: 'log' }),
      driver: config.logDriver,
      replicationFactor: config.kafka?.replicationFactor ?? 1,
    });
    closers.push(() => log.close());
    const registry = new SchemaRegistry({
      host: config.schemaRegistry?.url ?? embedded!.registryUrl,
    });
    const prefix = config.topicPrefix;
    const rpTopic = restorePointsTopic(prefix);
    await log.admin.ensureTopic({
      topic: rpTopic,
      partitions: 1,
      cleanupPolicy: 'compact',
      retentionMs: -1,
    });
    const restorePointCodec = createRestorePointCodec({ registry, subject: `${rpTopic}-value` });
    await restorePointCodec.register();
    const control: ControlChannel = await openControlChannel({
      log,
      prefix,
      sessionTimeoutMs: config.sessionTimeoutMs,
    });
    closers.push(() => control.close());

    const codecs = new Map<string, RecordCodec>();
    for (const feed of config.feeds) {
      const topic = extentsTopic(prefix, feed.name);
      const codec = createRecordCodec({ registry, subject: `${topic}-value` });
      await codec.register();
      codecs.set(feed.name, codec);
    }

    const feeds = new Map<string, Feed>();
    if (options.feeds ?? true) {
      for (const feedConfig of config.feeds) {
        const topic = extentsTopic(prefix, feedConfig.name);
        const built = buildSource(feedConfig, config, logger);
        const feed = createFeed({
          name: feedConfig.name,
          topic,
          source: options.decorateSource?.(feedConfig.name, built) ?? built,
          log,
          codec: codecs.get(feedConfig.name)!,
          logger: logger.child({ feed: feedConfig.name }),
          intervalMs: feedConfig.intervalMs ?? null,
          heartbeatIntervalMs: feedConfig.heartbeatIntervalMs,
          limits: {
            maxRecordBytes: feedConfig.maxRecordBytes,
            minZeroRunBytes: feedConfig.minZeroRunBytes,
            readConcurrency: feedConfig.readConcurrency,
          },
          maxInFlightBytes: feedConfig.maxInFlightBytes,
          maxBatchBytes: Math.max(feedConfig.maxBatchBytes, feedConfig.maxRecordBytes + 64 * 1024),
          diskConcurrency: feedConfig.diskConcurrency,
          topicSpec: {
            retentionMs: feedConfig.retentionMs,
            retentionBytes: feedConfig.retentionBytes,
            cleanupPolicy: 'delete',
            maxMessageBytes:
              Math.max(feedConfig.maxBatchBytes, feedConfig.maxRecordBytes + 64 * 1024) + MiB,
          },
        });
        await feed.start();
        closers.push(() => feed.stop());
        feeds.set(feedConfig.name, feed);
        const stopListening = await control.listen(
          `${prefix}.feed.${feedConfig.name}.control`,
          (message) => {
            if (message.kind !== 'rebaseline' || message.feed !== feedConfig.name) return;
            logger.warn(
              {
                feed: message.feed,
                disk: message.disk,
                by: message.requestedBy,
                reason: message.reason,
              },
              're-baseline requested',
            );
            try {
              feed.requestRebaseline(
                message.disk,
                `requested by target ${message.requestedBy}: ${message.reason}`,
              );
              feed.syncNow([message.disk]).catch(() => undefined);
            } catch (error) {
              logger.warn({ err: error }, 'ignoring a re-baseline request for an unknown disk');
            }
          },
        );
        closers.push(stopListening);
      }
    }

    // Decoding takes the writer schema from each frame's id: one decoder serves every feed.
    const decoder = createRecordCodec({
      registry,
      subject: `${extentsTopic(prefix, 'any')}-value`,
    });
    const targets = new Map<string, Target>();
    const replays = new Map<string, Replay>();
    const restorePoints = () =>
      readRestorePoints({ log, topic: rpTopic, codec: restorePointCodec });
    if ((options.targets ?? true) && config.targets.length > 0) {
      const known = await restorePoints();
      for (const targetConfig of config.targets) {
        const built = await buildTarget(targetConfig, logger, config.dataDir);
        const target = options.decorateTarget?.(targetConfig.name, built) ?? built;
        targets.set(targetConfig.name, target);
        closers.push(() => target.close());
        const writer: RestorePointWriter = createRestorePointWriter({
          log,
          topic: rpTopic,
          codec: restorePointCodec,
        });
        closers.push(() => writer.close());
        const replay = createReplay({
          targetName: targetConfig.name,
          target,
          log,
          decoder,
          feeds: targetConfig.feeds.map((feed) => ({ feed, topic: extentsTopic(prefix, feed) })),
          groupId: replayGroupId(prefix, targetConfig.name),
          sessionTimeoutMs: config.sessionTimeoutMs,
          restorePoints: writer,
          lastRestorePoints: known,
          requestRebaseline: (feed, disk, reason) => {
            control
              .send({
                kind: 'rebaseline',
                feed,
                disk,
                reason,
                requestedBy: targetConfig.name,
                requestedAtMs: Date.now(),
              })
              .catch((error: unknown) =>
                logger.warn({ err: error }, 'could not send a re-baseline request'),
              );
          },
          flushIntervalMs: targetConfig.flushIntervalMs,
          logger: logger.child({ target: targetConfig.name }),
        });
        await replay.start();
        closers.push(() => replay.stop());
        replays.set(targetConfig.name, replay);
      }
    }

    let statusServer: { readonly url: string } | null = null;
    if (status !== null) {
      const { model, actions } = createRuntimeStatusModel({
        log,
        feeds,
        replays,
        targetFeeds: new Map(
          config.targets
            .filter((target) => replays.has(target.name))
            .map((target) => [
              target.name,
              target.feeds.map((feed) => ({ feed, topic: extentsTopic(prefix, feed) })),
            ]),
        ),
        embedded,
        restorePointsTopic: rpTopic,
        restorePointCodec,
        logger,
      });
      const server = await startStatusServer({
        model,
        actions,
        token,
        logger: logger.child({ component: 'status' }),
        host: status.host,
        port: status.port,
        sampleIntervalMs: status.sampleIntervalMs,
        historySamples: status.historySamples,
      });
      closers.push(() => server.close());
      statusServer = { url: server.url };
      if (token === null)
        logger.warn('status API actions are disabled: set status.tokenFile to enable them');
      logger.info({ url: server.url }, 'status API listening');
    }

    return {
      config,
      status: statusServer,
      log,
      registry,
      embedded,
      feeds,
      replays,
      targets,
      restorePointCodec,
      restorePointsTopic: rpTopic,
      restorePoints,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
