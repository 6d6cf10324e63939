/**
 * Boots the kernel module's VM with Node.js in the guest (kmod/vm/e2e.sh, kmod/vm/bench.sh):
 * writes the guest program's plan (test/support/kernel-journal-guest.ts) for a feed `kj` of
 * disk `vda` — journal /dev/extentlog/j0, COW store /dev/vdb — that publishes to `broker`
 * and `registry` of this process, runs the scenario and reads the guest's result.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { GuestPhase, GuestPlan, GuestResult } from './kernel-journal-guest.js';
import { checkoutDir, runVm, type VmOptions, type VmRun } from './kernel-vm.js';
import type { TestBroker } from './test-broker.js';
import type { TestRegistry } from './test-registry.js';

export interface NodeGuestOptions extends Pick<
  VmOptions,
  'image' | 'name' | 'disks' | 'resultsDir' | 'timeoutMs' | 'cleanup'
> {
  /** kmod/vm/<scenario>.sh */
  readonly scenario: string;
  /** More scenario.env assignments (CHECKOUT and GUEST_PLAN are set here). */
  readonly env: Readonly<Record<string, string>>;
  readonly broker: TestBroker;
  readonly registry: TestRegistry;
  readonly topic: string;
  readonly consistencyIntervalMs: number;
  readonly phases: readonly GuestPhase[];
}

export interface NodeGuestRun {
  readonly vm: VmRun;
  /** The guest program's result; rejects when it wrote none. */
  result(): Promise<GuestResult>;
}

export async function runNodeGuest(options: NodeGuestOptions): Promise<NodeGuestRun> {
  const plan: GuestPlan = {
    brokerPort: options.broker.port,
    hostAddress: '10.0.2.2',
    registryUrl: `http://10.0.2.2:${options.registry.running.port}`,
    feed: 'kj',
    topic: options.topic,
    diskId: 'vda',
    journalPath: '/dev/extentlog/j0',
    cowStorePath: '/dev/vdb',
    device: '/dev/mapper/exl0',
    writer: options.image.writer,
    resultPath: '/tmp/results/guest-result.json',
    consistencyIntervalMs: options.consistencyIntervalMs,
    phases: options.phases,
  };
  await mkdir(options.resultsDir, { recursive: true });
  await writeFile(path.join(options.resultsDir, 'plan.json'), JSON.stringify(plan));
  const vm = await runVm({
    image: options.image,
    name: options.name,
    scenario: path.join(checkoutDir, 'kmod', 'vm', `${options.scenario}.sh`),
    env: { ...options.env, CHECKOUT: checkoutDir, GUEST_PLAN: '/tmp/results/plan.json' },
    disks: options.disks,
    resultsDir: options.resultsDir,
    memoryMb: 1536,
    hostRoot: true,
    network: true,
    timeoutMs: options.timeoutMs,
    cleanup: options.cleanup,
  });
  return {
    vm,
    result: async () =>
      JSON.parse(
        await readFile(path.join(options.resultsDir, 'guest-result.json'), 'utf8'),
      ) as GuestResult,
  };
}
