/**
 * The configuration of an extentlog process (`extentlog run -c config.yaml`), validated once
 * at the edge. Every object is strict: an unknown key is an error with a suggestion. Sizes
 * are bytes and durations milliseconds, as their names say.
 */
import { z } from 'zod';
import { LOG_DRIVER_CHOICES } from '../../log/log-client-options.js';

const MiB = 1024 * 1024;
export const STATUS_DEFAULT_PORT = 8480;
const name = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/,
    'expected 1-63 letters, digits, dots, dashes or underscores, starting with a letter or digit',
  );
const positiveInt = z.number().int().positive();

export const kafkaSchema = z.strictObject({
  brokers: z.array(z.string().min(1)).min(1),
  clientId: z.string().min(1).default('extentlog'),
  sasl: z
    .strictObject({
      mechanism: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']),
      username: z.string().min(1),
      passwordFile: z.string().min(1),
    })
    .optional(),
  tls: z
    .strictObject({
      caFile: z.string().min(1).optional(),
      certFile: z.string().min(1).optional(),
      keyFile: z.string().min(1).optional(),
      serverName: z.string().min(1).optional(),
      rejectUnauthorized: z.boolean().default(true),
    })
    .optional(),
  replicationFactor: positiveInt.default(3),
  connectionTimeoutMs: positiveInt.default(3000),
  requestTimeoutMs: positiveInt.default(30000),
});

export const embeddedSchema = z.strictObject({
  host: z.string().default('127.0.0.1'),
  /** 0: an ephemeral port. */
  port: z.number().int().min(0).max(65535).default(0),
  registryPort: z.number().int().min(0).max(65535).default(0),
});

export const imageSourceSchema = z.strictObject({
  type: z.literal('image'),
  disks: z.array(z.strictObject({ id: z.string().min(1), path: z.string().min(1) })).min(1),
  blockSizeBytes: positiveInt.default(4096),
  /** Where the per-block hash files live; defaults to <dataDir>/state/<feed>. */
  stateDir: z.string().min(1).optional(),
  /** 'xxh3-128' needs the fileio addon; 'sha256-128' is pure Node.js (slower). */
  hashAlgorithm: z.enum(['xxh3-128', 'sha256-128']).optional(),
  /** Skip holes with SEEK_DATA/SEEK_HOLE (needs the fileio addon). */
  detectHoles: z.boolean().optional(),
});

export const ociSourceSchema = z.strictObject({
  type: z.literal('oci'),
  /** The Core Services endpoint, https://iaas.<region>.oraclecloud.com. */
  endpoint: z.url(),
  tenancyId: z.string().min(1),
  userId: z.string().min(1),
  /** The API key's fingerprint; computed from the key when omitted. */
  fingerprint: z.string().min(1).optional(),
  /** PEM of the API signing key. */
  privateKeyFile: z.string().min(1),
  passphraseFile: z.string().min(1).optional(),
  compartmentId: z.string().min(1),
  availabilityDomain: z.string().min(1),
  /** The instance this process runs on: restored volumes are attached to it. */
  instanceId: z.string().min(1),
  volumeGroupId: z.string().min(1),
  disks: z.array(z.strictObject({ id: z.string().min(1), volumeId: z.string().min(1) })).min(1),
  changeBlockSizeBytes: positiveInt.default(4096),
  /** GET LBA STATUS scan window; OCI supports at most 1 GiB. */
  scanWindowBytes: positiveInt.max(1024 * MiB).optional(),
  initiatorIqn: z.string().min(1).default('iqn.2024-01.io.extentlog:initiator'),
  pollIntervalMs: positiveInt.default(2000),
  operationTimeoutMs: positiveInt.default(30 * 60_000),
});

/** A disk of the QEMU source: a qcow2 image no VM runs, or a node of a running QEMU. */
const qemuDiskSchema = z
  .strictObject({
    id: z.string().min(1),
    /** A qcow2 image not in use (bitmaps via qemu-img, read via qemu-nbd). */
    image: z.string().min(1).optional(),
    /** The QMP socket of a running VM or qemu-storage-daemon. */
    qmpSocket: z.string().min(1).optional(),
    /** With qmpSocket: the disk's block node-name, or its device / qdev id. */
    node: z.string().min(1).optional(),
    /** With qmpSocket: the unix socket of QEMU's NBD server (started there if none runs). */
    nbdSocket: z.string().min(1).optional(),
  })
  .superRefine((disk, context) => {
    const live = disk.qmpSocket !== undefined || disk.node !== undefined;
    if (
      (disk.image === undefined) === !live ||
      (live && (disk.qmpSocket === undefined || disk.node === undefined))
    )
      context.addIssue({
        code: 'custom',
        message: 'expected either image, or qmpSocket and node',
      });
    if (disk.image !== undefined && disk.nbdSocket !== undefined)
      context.addIssue({
        code: 'custom',
        path: ['nbdSocket'],
        message: 'only for qmpSocket disks',
      });
  });

export const qemuSourceSchema = z.strictObject({
  type: z.literal('qemu'),
  disks: z.array(qemuDiskSchema).min(1),
  /** qemu-nbd sockets and fleecing files; defaults to <dataDir>/qemu/<feed>. QEMU must be able to write it. */
  workDir: z.string().min(1).optional(),
  /** Dirty bitmap granularity, also the disks' block size. */
  bitmapGranularityBytes: positiveInt.default(64 * 1024),
  /** Running QEMU: whether new bitmaps are saved in the qcow2 and survive a restart. */
  persistentBitmaps: z.boolean().default(true),
  /** NBD connections per cycle, when the export allows several. */
  nbdConnections: positiveInt.max(16).default(4),
  /** Largest NBD read request. */
  maxRequestBytes: positiveInt.max(32 * MiB).default(256 * 1024),
});

/** How a VMware snapshot's disk is served over NBD for a cycle. */
const snapshotReaderSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('nbdkit-vddk'),
    /** Where VDDK (vmware-vix-disklib-distrib) is unpacked. */
    libdir: z.string().min(1),
    /** The host VDDK connects to; defaults to the url's host. */
    server: z.string().min(1).optional(),
    /** Default: the source's username and passwordFile. */
    user: z.string().min(1).optional(),
    passwordFile: z.string().min(1).optional(),
    /** SHA-1 thumbprint of the server certificate (VDDK checks it). */
    thumbprint: z.string().min(1),
    /** VDDK transports in order, e.g. 'hotadd:nbdssl:nbd'. */
    transports: z.string().min(1).optional(),
    extraParameters: z.array(z.string().min(1)).optional(),
  }),
  z.strictObject({
    type: z.literal('command'),
    /** argv of an NBD server for the snapshot: {socket} {vm} {snapshot} {file} {diskKey}. */
    command: z.array(z.string().min(1)).min(1),
  }),
]);

export const vmwareSourceSchema = z.strictObject({
  type: z.literal('vmware'),
  /** The vSphere SDK endpoint: https://vcenter.example/sdk */
  url: z.url(),
  username: z.string().min(1),
  /** A file holding the password (never the password itself). */
  passwordFile: z.string().min(1),
  /** PEM CA certificate(s) of vCenter / ESXi. */
  caFile: z.string().min(1).optional(),
  /** SHA-1 thumbprint of the server certificate, checked instead of the CA. */
  thumbprint: z.string().min(1).optional(),
  /** false accepts any certificate (labs only). */
  rejectUnauthorized: z.boolean().default(true),
  disks: z
    .array(
      z.strictObject({
        id: z.string().min(1),
        /** The VM's managed object id (vm-42) or name. */
        vm: z.string().min(1),
        /** The virtual disk's device key or label; default: the VM's only disk. */
        disk: z.union([z.number().int(), z.string().min(1)]).optional(),
      }),
    )
    .min(1),
  snapshotReader: snapshotReaderSchema,
  /** Sockets of the snapshot NBD servers; defaults to <dataDir>/vmware/<feed>. */
  workDir: z.string().min(1).optional(),
  /** Extents are aligned to it. */
  blockSizeBytes: positiveInt.default(64 * 1024),
  /** Quiesce guest file systems (VMware Tools) for app-consistent snapshots. */
  quiesce: z.boolean().default(false),
  nbdConnections: positiveInt.max(16).default(4),
  maxRequestBytes: positiveInt.max(32 * MiB).default(256 * 1024),
});

export const kernelJournalSourceSchema = z.strictObject({
  type: z.literal('kernel-journal'),
  disks: z
    .array(
      z.strictObject({
        id: z.string().min(1),
        /** The extentlog target's journal, /dev/extentlog/<name>. */
        journal: z.string().min(1),
        /** A file or block device for COW snapshots, not on the protected device. */
        cowStore: z.string().min(1),
      }),
    )
    .min(1),
  /** COW granularity: a power of two from 4 KiB to 1 MiB. */
  chunkBytes: positiveInt.optional(),
  /** Longest time between consistency points while writes arrive. */
  consistencyIntervalMs: positiveInt.optional(),
  /** A consistency point this soon after a flush or FUA write. */
  barrierMinIntervalMs: positiveInt.optional(),
});

/** Ceph RBD images, named directly or found behind OpenStack servers (docs/rbd-source.md). */
export const rbdSourceSchema = z
  .strictObject({
    type: z.literal('rbd'),
    ceph: z
      .strictObject({
        /** A ceph.conf (monitor addresses, auth settings, keyring path). */
        confFile: z.string().min(1).optional(),
        /** Monitor addresses, instead of or over the conf file's. */
        monHosts: z.array(z.string().min(1)).min(1).optional(),
        keyringFile: z.string().min(1).optional(),
        /** A file holding the cephx secret (base64), instead of a keyring. */
        keyFile: z.string().min(1).optional(),
        clientId: z.string().min(1).default('admin'),
        timeoutMs: positiveInt.min(1000).default(30_000),
        /** Further librados options (`rados_conf_set`). */
        settings: z.record(z.string().min(1), z.string()).optional(),
      })
      .refine((ceph) => ceph.confFile !== undefined || ceph.monHosts !== undefined, {
        message: 'expected confFile or monHosts',
      }),
    /** Images named directly: the source takes and removes its own RBD snapshots. */
    images: z
      .array(
        z.strictObject({
          id: z.string().min(1),
          pool: z.string().min(1),
          image: z.string().min(1),
        }),
      )
      .min(1)
      .optional(),
    /** The volumes of OpenStack servers: Cinder snapshots through the API. */
    openstack: z
      .strictObject({
        /** Keystone's v3 endpoint: https://keystone.example:5000/v3 */
        authUrl: z.url(),
        username: z.string().min(1),
        passwordFile: z.string().min(1),
        userDomainName: z.string().min(1).default('Default'),
        projectName: z.string().min(1),
        projectDomainName: z.string().min(1).default('Default'),
        region: z.string().min(1).optional(),
        interface: z.enum(['public', 'internal', 'admin']).default('public'),
        /** Nova server ids: every volume attached to them is a disk. */
        servers: z.array(z.string().min(1)).min(1),
        /** Cinder's `rbd_pool`. */
        pool: z.string().min(1).default('volumes'),
        snapshotTimeoutMs: positiveInt.default(600_000),
      })
      .optional(),
    blockSizeBytes: positiveInt.default(4096),
  })
  .refine((source) => (source.images === undefined) !== (source.openstack === undefined), {
    message: 'expected exactly one of images or openstack',
  });

/**
 * How an EBS source or target reaches AWS. Credentials are never part of the configuration:
 * the default provider chain (environment, shared files, SSO, instance or container role),
 * a named `profile` of it, or a shared `credentialsFile`.
 */
const awsSettingsSchema = z.strictObject({
  region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, 'expected an AWS region, e.g. eu-west-1'),
  profile: z.string().min(1).optional(),
  credentialsFile: z.string().min(1).optional(),
  /** Endpoint overrides (VPC endpoints, FIPS). */
  ebsEndpoint: z.url().optional(),
  ec2Endpoint: z.url().optional(),
  /** Every request, EC2 and EBS, retries included, takes a token of one bucket. */
  maxRequestsPerSecond: z.number().positive().default(200),
  burst: positiveInt.default(50),
  /** Attempts per request when AWS throttles or fails with 5xx, the first included. */
  maxAttempts: positiveInt.max(50).default(10),
  requestTimeoutMs: positiveInt.default(60_000),
  /** Snapshot completion polling: the first interval, the longest, and the give-up time. */
  snapshotPollMs: positiveInt.default(1000),
  snapshotMaxPollMs: positiveInt.default(15_000),
  snapshotWaitTimeoutMs: positiveInt.default(6 * 3600 * 1000),
});

export const ebsSourceSchema = z
  .strictObject({
    type: z.literal('ebs'),
    ...awsSettingsSchema.shape,
    /** Volumes snapshotted one by one (CreateSnapshot), each a disk (default id: the volume id). */
    volumes: z
      .array(
        z.strictObject({
          id: z.string().regex(/^vol-[0-9a-f]+$/, 'expected a volume id, vol-…'),
          diskId: z.string().min(1).optional(),
        }),
      )
      .min(1)
      .optional(),
    /** Or every volume of an instance, snapshotted together (CreateSnapshots). */
    instance: z
      .strictObject({
        id: z.string().regex(/^i-[0-9a-f]+$/, 'expected an instance id, i-…'),
        excludeBootVolume: z.boolean().default(false),
      })
      .optional(),
    /** GetSnapshotBlock requests in flight per cycle (each holds a 512 KiB block). */
    readConcurrency: positiveInt.max(256).default(16),
    /** Blocks read ahead and not yet published: memory is this × 512 KiB per cycle. */
    maxHeldBlocks: positiveInt.optional(),
    /** MaxResults of ListSnapshotBlocks / ListChangedBlocks. */
    maxResults: z.number().int().min(100).max(10_000).default(10_000),
  })
  .refine((source) => (source.volumes === undefined) !== (source.instance === undefined), {
    message: 'configure either volumes or instance, exactly one of them',
  });

export const sourceSchema = z.discriminatedUnion('type', [
  imageSourceSchema,
  rbdSourceSchema,
  qemuSourceSchema,
  vmwareSourceSchema,
  kernelJournalSourceSchema,
  ociSourceSchema,
  ebsSourceSchema,
]);

export const feedSchema = z.strictObject({
  name,
  source: sourceSchema,
  /** Time between scheduled cycles; omit for on-demand only. */
  intervalMs: positiveInt.optional(),
  heartbeatIntervalMs: z.number().int().min(0).default(10_000),
  maxRecordBytes: positiveInt.max(8 * MiB).default(MiB),
  minZeroRunBytes: positiveInt.default(64 * 1024),
  readConcurrency: positiveInt.max(64).default(4),
  maxInFlightBytes: positiveInt.default(64 * MiB),
  /** Records per partition in one produce request, in bytes (the topic accepts this plus 1 MiB). */
  maxBatchBytes: positiveInt.max(64 * MiB).default(8 * MiB),
  diskConcurrency: positiveInt.default(2),
  /** -1 keeps the feed's records forever; a target can catch up only within retention. */
  retentionMs: z
    .number()
    .int()
    .min(-1)
    .default(7 * 24 * 3600 * 1000),
  retentionBytes: z.number().int().min(-1).default(-1),
});

export const fileTargetSchema = z.strictObject({
  type: z.literal('file'),
  name,
  feeds: z.array(name).min(1),
  /** Path template: {feed} and {disk} are replaced. Block devices are used in place. */
  path: z.string().min(1),
  createFiles: z.boolean().default(true),
  zeroing: z.enum(['punch-hole', 'write-zeros']).default('punch-hole'),
  flushIntervalMs: positiveInt.default(1000),
});

export const ebsTargetSchema = z.strictObject({
  type: z.literal('ebs'),
  name,
  feeds: z.array(name).min(1),
  ...awsSettingsSchema.shape,
  /** Local room for the epochs being replayed; defaults to <dataDir>/ebs-staging/<name>. */
  stagingDir: z.string().min(1).optional(),
  /** PutSnapshotBlock requests in flight per disk. */
  putConcurrency: positiveInt.max(256).default(16),
  /** GetSnapshotBlock requests in flight: parent blocks of partial writes, restore point reads. */
  readConcurrency: positiveInt.max(256).default(16),
  /** StartSnapshot's Timeout: minutes without a written block before AWS fails the snapshot. */
  snapshotTimeoutMinutes: z.number().int().min(10).max(4320).default(60),
  flushIntervalMs: positiveInt.default(1000),
});

/** A secret is read from a file named here, never written into the configuration. */
const chapSchema = z.strictObject({
  username: z.string().min(1),
  secretFile: z.string().min(1),
});

export const iscsiTargetSchema = z.strictObject({
  type: z.literal('iscsi'),
  name,
  feeds: z.array(name).min(1),
  /** host:port of the target portal ([v6]:port for IPv6); the port defaults to 3260. */
  portal: z.string().min(1),
  initiatorIqn: z.string().min(1).default('iqn.2024-01.io.extentlog:initiator'),
  /** Which LUN holds which disk; `feed` narrows an entry to one feed's disk of that id. */
  luns: z
    .array(
      z.strictObject({
        disk: z.string().min(1),
        feed: name.optional(),
        targetIqn: z.string().min(1),
        lun: z.number().int().min(0).max(255).default(1),
        portal: z.string().min(1).optional(),
      }),
    )
    .min(1),
  /** One-way CHAP: the initiator's user name and secret. */
  chap: chapSchema.optional(),
  /** Mutual CHAP: the target's user name and secret (needs `chap`). */
  mutualChap: chapSchema.optional(),
  commandTimeoutMs: positiveInt.default(30_000),
  connectTimeoutMs: positiveInt.default(10_000),
  /** How long a write keeps reconnecting after a connection loss before the disk stops. */
  reconnectTimeoutMs: positiveInt.default(60_000),
  maxWriteBytes: positiveInt.max(64 * MiB).default(8 * MiB),
  maxInFlightBytes: positiveInt.default(64 * MiB),
  flushIntervalMs: positiveInt.default(1000),
});

/** Object storage (docs/s3-target.md): chunks + one manifest per restore point. */
export const s3TargetSchema = z.strictObject({
  type: z.literal('s3'),
  name,
  feeds: z.array(name).min(1),
  /** 'aws' (Amazon S3), 'oss' (Alibaba Cloud OSS, S3-compatible endpoint), 'generic' (radosgw, MinIO, …). */
  provider: z.enum(['aws', 'oss', 'generic']).default('aws'),
  endpoint: z.url().optional(),
  /** Signing region: AWS region, or the OSS region id without 'oss-' (cn-hangzhou). */
  region: z.string().min(1).optional(),
  /** Path-style requests; default true for 'generic', false for 'aws' and 'oss'. */
  forcePathStyle: z.boolean().optional(),
  bucket: z.string().min(3).max(63),
  /** Key prefix of everything the target writes, e.g. 'extentlog/'. */
  prefix: z.string().default(''),
  /** Omit for the SDK's default chain (environment, shared files, instance roles). */
  credentials: z
    .union([
      z.strictObject({
        accessKeyIdFile: z.string().min(1),
        secretAccessKeyFile: z.string().min(1),
        sessionTokenFile: z.string().min(1).optional(),
      }),
      z.strictObject({
        profile: z.string().min(1),
        credentialsFile: z.string().min(1).optional(),
        configFile: z.string().min(1).optional(),
      }),
    ])
    .optional(),
  chunkSizeBytes: positiveInt
    .min(64 * 1024)
    .max(256 * MiB)
    .refine((value) => value % 4096 === 0, 'expected a multiple of 4096')
    .default(4 * MiB),
  compression: z.enum(['none', 'gzip']).default('none'),
  /** Client-side AES-256-GCM; the key file holds 32 bytes (raw, hex or base64). */
  encryption: z.strictObject({ keyFile: z.string().min(1) }).optional(),
  maxDirtyBytes: positiveInt.default(64 * MiB),
  uploadConcurrency: positiveInt.max(64).default(8),
  gc: z
    .strictObject({
      /** Unreferenced chunks younger than this are kept; writers rely on it (default 24 h). */
      graceMs: positiveInt.min(1000).default(24 * 3600 * 1000),
      leaseMs: positiveInt.default(120_000),
    })
    .default({ graceMs: 24 * 3600 * 1000, leaseMs: 120_000 }),
  /** Applied after every restore point and by `extentlog s3 retain`; the newest is always kept. */
  retention: z
    .strictObject({ keepLast: positiveInt.optional(), keepForMs: positiveInt.optional() })
    .optional(),
  flushIntervalMs: positiveInt.default(1000),
});

export const targetSchema = z.discriminatedUnion('type', [
  fileTargetSchema,
  iscsiTargetSchema,
  s3TargetSchema,
  ebsTargetSchema,
]);

export const statusSchema = z.strictObject({
  enabled: z.boolean().default(true),
  /** The API's address; anything but loopback exposes the (read-only) status to the network. */
  host: z.string().min(1).default('127.0.0.1'),
  /** 0: an ephemeral port. */
  port: z.number().int().min(0).max(65535).default(STATUS_DEFAULT_PORT),
  /** A file whose first line is the bearer token for actions; without it actions are disabled. */
  tokenFile: z.string().min(1).optional(),
  /** How often every target's lag is measured (and the status page updated). */
  sampleIntervalMs: z.number().int().min(100).max(60_000).default(1000),
  /** Lag samples kept for the status page's chart (900 × 1 s: the last 15 minutes). */
  historySamples: z.number().int().min(10).max(100_000).default(900),
});

export const configSchema = z
  .strictObject({
    dataDir: z.string().min(1).default('./data'),
    topicPrefix: name.default('extentlog'),
    /**
     * Session timeout of this process's consumer groups (replays, control listeners): how
     * long a crashed process holds its partitions, and how long its restart waits to rejoin.
     */
    sessionTimeoutMs: z.number().int().min(1000).max(300_000).default(30_000),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
    /**
     * The Kafka client library, for the embedded broker and `kafka.brokers` alike: 'auto'
     * takes librdkafka when it is installed (scripts/setup.sh --librdkafka), else kafkajs.
     */
    logDriver: z.enum(LOG_DRIVER_CHOICES).default('auto'),
    /** Omit to run on the embedded broker and schema registry. */
    kafka: kafkaSchema.optional(),
    schemaRegistry: z.strictObject({ url: z.url() }).optional(),
    embedded: embeddedSchema.default({ host: '127.0.0.1', port: 0, registryPort: 0 }),
    /** The status API and page; omit to run without them. */
    status: statusSchema.optional(),
    feeds: z.array(feedSchema).default([]),
    targets: z.array(targetSchema).default([]),
  })
  .superRefine((config, context) => {
    if (config.kafka !== undefined && config.schemaRegistry === undefined) {
      context.addIssue({
        code: 'custom',
        path: ['schemaRegistry'],
        message: 'required when kafka is configured: the registry of that cluster',
      });
    }
    const feeds = new Set<string>();
    config.feeds.forEach((feed, index) => {
      if (feeds.has(feed.name))
        context.addIssue({
          code: 'custom',
          path: ['feeds', index, 'name'],
          message: `feed name '${feed.name}' is used twice`,
        });
      feeds.add(feed.name);
    });
    const targets = new Set<string>();
    config.targets.forEach((target, index) => {
      if (targets.has(target.name))
        context.addIssue({
          code: 'custom',
          path: ['targets', index, 'name'],
          message: `target name '${target.name}' is used twice`,
        });
      targets.add(target.name);
      if (target.type === 'iscsi' && target.mutualChap !== undefined && target.chap === undefined)
        context.addIssue({
          code: 'custom',
          path: ['targets', index, 'mutualChap'],
          message: 'mutual CHAP needs chap too: the initiator proves itself first',
        });
      target.feeds.forEach((feed, feedIndex) => {
        // On a Kafka cluster a target may follow feeds that run on other hosts; on the
        // embedded broker every feed runs here, so an unknown name is a mistake.
        if (!feeds.has(feed) && config.kafka === undefined) {
          context.addIssue({
            code: 'custom',
            path: ['targets', index, 'feeds', feedIndex],
            message: `no feed named '${feed}'; the feeds are ${[...feeds].map((known) => `'${known}'`).join(', ') || 'none'} (only with kafka may a target follow feeds that run elsewhere)`,
          });
        }
      });
    });
  });

export type ExtentlogConfig = z.infer<typeof configSchema>;
export type FeedConfig = z.infer<typeof feedSchema>;
export type TargetConfig = z.infer<typeof targetSchema>;
export type S3TargetConfig = z.infer<typeof s3TargetSchema>;
export type SourceConfig = z.infer<typeof sourceSchema>;
export type EbsSourceConfig = z.infer<typeof ebsSourceSchema>;
export type AwsSettingsConfig = z.infer<typeof awsSettingsSchema>;
export type EbsTargetConfig = z.infer<typeof ebsTargetSchema>;
export type StatusConfig = z.infer<typeof statusSchema>;
