/**
 * The deployment examples stay true to the code: every configuration validates, the
 * systemd units and Kubernetes manifests start the commands and probe the routes that
 * exist, with the files and ports their configurations name, and the Grafana dashboard
 * queries only metrics the status API exports (and shows each of them).
 */
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { loadConfig, parseConfig } from '../../bin/config/load-config.js';
import type { ExtentlogConfig } from '../../bin/config/schema.js';
import { METRIC_NAMES } from '../../status/status-metrics.js';

// dist/test/unit → the checkout's deploy/
const DEPLOY = fileURLToPath(new URL('../../../deploy/', import.meta.url));

const configs = {
  singleHost: path.join(DEPLOY, 'single-host.yaml'),
  producer: path.join(DEPLOY, 'multi-host', 'producer.yaml'),
  consumer: path.join(DEPLOY, 'multi-host', 'consumer.yaml'),
};

/** The directory a target's path template writes under (up to the first placeholder). */
function targetRoot(template: string): string {
  return path.dirname(template.slice(0, template.indexOf('{')) + 'x');
}

test('the example configurations serve the status API with actions enabled', async () => {
  const singleHost = await loadConfig(configs.singleHost);
  assert.equal(singleHost.status?.host, '127.0.0.1', 'one host: loopback only');
  for (const file of [configs.producer, configs.consumer]) {
    const config = await loadConfig(file);
    assert.equal(config.status?.host, '0.0.0.0', `${file}: reachable for scraping`);
  }
  for (const file of Object.values(configs)) {
    const config = await loadConfig(file);
    assert.ok(config.status?.tokenFile, `${file}: actions are enabled with a token file`);
    assert.equal(config.status?.port, 8480);
  }
});

interface Unit {
  readonly file: string;
  readonly service: Map<string, string[]>;
}

async function units(): Promise<Unit[]> {
  const dir = path.join(DEPLOY, 'systemd');
  const found: Unit[] = [];
  for (const file of (await readdir(dir)).filter((name) => name.endsWith('.service'))) {
    const service = new Map<string, string[]>();
    let section = '';
    for (const line of (await readFile(path.join(dir, file), 'utf8')).split('\n')) {
      const header = /^\[(\w+)\]$/.exec(line);
      if (header !== null) section = header[1]!;
      const setting = /^(\w+)=(.*)$/.exec(line);
      if (section === 'Service' && setting !== null)
        service.set(setting[1]!, [...(service.get(setting[1]!) ?? []), setting[2]!]);
    }
    found.push({ file, service });
  }
  return found;
}

test('the systemd units run the example configurations and may write where they write', async () => {
  const found = await units();
  assert.deepEqual(found.map((unit) => unit.file).sort(), [
    'extentlog-consumer@.service',
    'extentlog-producer.service',
    'extentlog.service',
  ]);
  const examples: Record<string, string> = {
    'extentlog.yaml': configs.singleHost,
    'producer.yaml': configs.producer,
    'consumer-%i.yaml': configs.consumer,
  };
  for (const { file, service } of found) {
    const [execStart] = service.get('ExecStart') ?? [];
    const match = /^\/usr\/bin\/extentlog run -c \/etc\/extentlog\/(\S+)$/.exec(execStart ?? '');
    assert.ok(match, `${file}: ExecStart runs 'extentlog run -c …': ${execStart}`);
    const example = examples[match[1]!];
    assert.ok(example, `${file}: ${match[1]} has an example in deploy/`);
    const config = await loadConfig(example);
    assert.deepEqual(service.get('Restart'), ['on-failure'], file);
    assert.deepEqual(service.get('KillSignal'), ['SIGTERM'], file);
    const writable = (service.get('ReadWritePaths') ?? []).join(' ').split(/\s+/);
    assert.ok(writable.includes(config.dataDir), `${file} may write ${config.dataDir}`);
    // ProtectSystem=strict leaves /dev writable: block devices need the group, not a path.
    for (const target of config.targets) {
      if (target.type !== 'file') continue;
      if (target.path.startsWith('/dev/'))
        assert.deepEqual(service.get('SupplementaryGroups'), ['disk'], `${file}: ${target.path}`);
      else
        assert.ok(
          writable.includes(targetRoot(target.path)),
          `${file} may write ${targetRoot(target.path)} (target ${target.name})`,
        );
    }
  }
});

interface Container {
  args: string[];
  ports: { name: string; containerPort: number }[];
  resources: { requests?: Record<string, string>; limits?: Record<string, string> };
  readinessProbe: { httpGet: { path: string; port: string } };
  livenessProbe: { httpGet: { path: string; port: string } };
  startupProbe?: { httpGet: { path: string; port: string } };
  volumeMounts: { name: string; mountPath: string }[];
}

test('the Kubernetes consumers probe health and readiness on the status port, within their partitions', async () => {
  const text = await readFile(path.join(DEPLOY, 'kubernetes', 'consumer-offsite.yaml'), 'utf8');
  const documents = parseAllDocuments(text).map((document) => {
    assert.deepEqual(document.errors, []);
    return document.toJS() as { kind: string; data?: Record<string, string>; spec?: unknown };
  });
  const kinds = documents.map((document) => document.kind);
  assert.deepEqual(kinds, [
    'ConfigMap',
    'PersistentVolumeClaim',
    'Deployment',
    'Service',
    'PodDisruptionBudget',
  ]);
  const config: ExtentlogConfig = parseConfig(
    parseYaml(documents[0]!.data!['config.yaml']!),
    'the ConfigMap',
  );
  assert.equal(config.feeds.length, 0, 'a consumer follows feeds that run elsewhere');
  assert.equal(config.status?.host, '0.0.0.0', 'the kubelet reaches the probes on the pod address');
  const deploymentDocument = documents[2] as unknown as {
    metadata: { annotations: Record<string, string> };
    spec: { replicas: number; template: { spec: { containers: Container[] } } };
  };
  const deployment = deploymentDocument.spec;
  const partitions = Number(deploymentDocument.metadata.annotations['extentlog.io/partitions']);
  assert.ok(
    deployment.replicas >= 1 && deployment.replicas <= partitions,
    `${deployment.replicas} replicas for ${partitions} partitions`,
  );
  const [container] = deployment.template.spec.containers;
  assert.ok(container);
  const port = container.ports.find((entry) => entry.name === 'status');
  assert.equal(port?.containerPort, config.status?.port);
  assert.deepEqual(container.readinessProbe.httpGet, { path: '/readyz', port: 'status' });
  assert.deepEqual(container.livenessProbe.httpGet, { path: '/healthz', port: 'status' });
  assert.deepEqual(container.startupProbe?.httpGet, { path: '/healthz', port: 'status' });
  assert.ok(container.resources.requests?.cpu && container.resources.requests.memory);
  assert.ok(container.resources.limits?.memory);
  const configFile = container.args[container.args.indexOf('-c') + 1]!;
  const mounted = (file: string) =>
    container.volumeMounts.some((mount) => file.startsWith(`${mount.mountPath}/`));
  for (const file of [
    configFile,
    config.status!.tokenFile!,
    config.kafka!.sasl!.passwordFile,
    ...config.targets.flatMap((target) => (target.type === 'file' ? [target.path] : [])),
  ])
    assert.ok(mounted(file), `${file} is on a mounted volume`);
});

test('the Grafana dashboard queries exported metrics only, and shows each of them', async () => {
  const dashboard = JSON.parse(
    await readFile(path.join(DEPLOY, 'grafana', 'extentlog-dashboard.json'), 'utf8'),
  ) as { uid: string; panels: { id: number; targets: { expr: string }[] }[] };
  assert.equal(dashboard.uid, 'extentlog-replication');
  const ids = dashboard.panels.map((panel) => panel.id);
  assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
  const used = new Set<string>();
  for (const panel of dashboard.panels)
    for (const { expr } of panel.targets)
      for (const [, name] of expr.matchAll(/\b(extentlog_[a-z_]+?)(?:_bucket|_sum|_count)?\b/g)) {
        assert.ok(
          (METRIC_NAMES as readonly string[]).includes(name!),
          `panel ${panel.id} queries ${name}, which /metrics does not export`,
        );
        used.add(name!);
      }
  assert.deepEqual(
    METRIC_NAMES.filter((name) => !used.has(name)),
    [],
    'metrics no panel shows',
  );
});
