/**
 * The composition of an `rbd` source from its configuration: the Ceph connection, and the
 * snapshot provider — the source's own RBD snapshots for `images`, Cinder snapshots through
 * the OpenStack API for `openstack`. Secrets (the cephx key, the Keystone password) come
 * from files, read once here; they never reach the logs.
 */
import type { Logger } from 'pino';
import { createCephConnection } from '../producers/rbd/ceph-connection.js';
import { createCinderSnapshots } from '../producers/rbd/cinder-snapshots.js';
import { createDirectSnapshots } from '../producers/rbd/direct-snapshots.js';
import { OpenStackClient } from '../producers/rbd/openstack-client.js';
import { createRbdSource } from '../producers/rbd/rbd-source.js';
import type { ChangeSource } from '../producers/source.js';
import type { SourceConfig } from './config/schema.js';

type RbdSourceConfig = Extract<SourceConfig, { type: 'rbd' }>;

/** Reads the secret a setting names (`passwordFile`, `keyFile`), as the runtime does for every source. */
export type ReadSecret = (setting: string, filePath: string) => string;

export function buildRbdSource(
  source: RbdSourceConfig,
  readSecret: ReadSecret,
  logger: Logger,
): ChangeSource {
  const { ceph } = source;
  const connection = createCephConnection({
    ...(ceph.confFile === undefined ? {} : { confPath: ceph.confFile }),
    ...(ceph.monHosts === undefined ? {} : { monHosts: ceph.monHosts }),
    ...(ceph.keyringFile === undefined ? {} : { keyringPath: ceph.keyringFile }),
    ...(ceph.keyFile === undefined ? {} : { key: readSecret('ceph.keyFile', ceph.keyFile) }),
    clientId: ceph.clientId,
    timeoutMs: ceph.timeoutMs,
    ...(ceph.settings === undefined ? {} : { settings: ceph.settings }),
  });
  const openstack = source.openstack;
  const snapshots =
    openstack === undefined
      ? createDirectSnapshots(
          (source.images ?? []).map((entry) => ({
            diskId: entry.id,
            pool: entry.pool,
            image: entry.image,
          })),
          () => connection.cluster(),
        )
      : createCinderSnapshots({
          client: new OpenStackClient({
            authUrl: openstack.authUrl,
            username: openstack.username,
            password: readSecret('openstack.passwordFile', openstack.passwordFile),
            userDomainName: openstack.userDomainName,
            projectName: openstack.projectName,
            projectDomainName: openstack.projectDomainName,
            ...(openstack.region === undefined ? {} : { region: openstack.region }),
            interface: openstack.interface,
          }),
          serverIds: openstack.servers,
          pool: openstack.pool,
          snapshotTimeoutMs: openstack.snapshotTimeoutMs,
        });
  return createRbdSource({
    connection,
    snapshots,
    blockSizeBytes: source.blockSizeBytes,
    logger,
  });
}
