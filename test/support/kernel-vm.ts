/**
 * Boots Debian's kernel under qemu-system-x86_64 (TCG; the host kernel is never touched)
 * with the busybox initramfs of kmod/vm/, runs one scenario script in the guest and hands
 * back its serial console and its results directory (shared over 9p). The image is built
 * by scripts/build-kmod.sh into kmod/build/.
 *
 * The console is scanned for kernel complaints (WARNING, BUG, Oops, Call Trace, panics);
 * `keepConsoleOnFailure` saves it under .tmp/vm-logs/ when a check fails.
 */
import { execFile, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { copyFile, cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
// dist/test/support/ → the checkout
export const checkoutDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const buildDir = path.join(checkoutDir, 'kmod', 'build');

export interface VmImage {
  readonly kernelVersion: string;
  readonly kernel: string;
  readonly initramfs: string;
  /** The module and the static guest tools, for runs that chroot into the host. */
  readonly module: string;
  readonly exlctl: string;
  readonly writer: string;
}

/** Builds (or reuses) kmod/build/. Fails naming the Debian packages when they are missing. */
export async function buildVmImage(): Promise<VmImage> {
  try {
    await run('bash', [path.join(checkoutDir, 'scripts', 'build-kmod.sh')], {
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(
      `building the kernel module's VM image failed (install the Debian packages of ` +
        `scripts/debian-packages.txt, e.g. by npm run setup as root):\n${stderr}`,
      { cause: error },
    );
  }
  return {
    kernelVersion: (await readFile(path.join(buildDir, 'kver'), 'utf8')).trim(),
    kernel: path.join(buildDir, 'vmlinuz'),
    initramfs: path.join(buildDir, 'initramfs.cpio.gz'),
    module: path.join(buildDir, 'extentlog.ko'),
    exlctl: path.join(buildDir, 'exlctl'),
    writer: path.join(buildDir, 'exl-writer'),
  };
}

export interface VmOptions {
  readonly image: VmImage;
  /** For file names and messages. */
  readonly name: string;
  /** A busybox sh script (kmod/vm/*.sh); it runs as /results/scenario.sh. */
  readonly scenario: string;
  /** Written to /results/scenario.env as shell assignments. */
  readonly env: Readonly<Record<string, string>>;
  /** Raw disk images: /dev/vda, /dev/vdb, … in this order. */
  readonly disks: readonly string[];
  /** Shared with the guest as /results (read-write). */
  readonly resultsDir: string;
  readonly memoryMb?: number;
  readonly cpus?: number;
  /** Share the host's / read-only as 9p tag "hostroot" (to chroot into and run Node.js). */
  readonly hostRoot?: boolean;
  /** qemu user networking: the guest reaches the host's 127.0.0.1 as 10.0.2.2. */
  readonly network?: boolean;
  readonly timeoutMs: number;
  /** Registers the clean-up that stops qemu by its PID (t.after or after). */
  readonly cleanup: (fn: () => Promise<void>) => void;
}

export interface VmRun {
  readonly name: string;
  readonly resultsDir: string;
  readonly console: string;
  readonly consolePath: string;
  /** The scenario's exit status, or null when the guest never reported one. */
  readonly scenarioExit: number | null;
  /** Kernel complaints seen on the console. */
  readonly kernelProblems: string[];
  readonly scenarioLog: string;
  readonly elapsedMs: number;
}

const PROBLEM =
  /^.*\b(WARNING:|BUG:|Oops|Call Trace|general protection fault|Kernel panic|kernel BUG|UBSAN|KASAN|hung_task|soft lockup).*$/gm;

function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

export async function runVm(options: VmOptions): Promise<VmRun> {
  const { image, resultsDir } = options;
  await mkdir(resultsDir, { recursive: true });
  await copyFile(options.scenario, path.join(resultsDir, 'scenario.sh'));
  await writeFile(
    path.join(resultsDir, 'scenario.env'),
    Object.entries(options.env)
      .map(([key, value]) => `${key}=${shellQuote(value)}\n`)
      .join(''),
  );
  const consolePath = path.join(resultsDir, 'console.log');
  const args = [
    '-accel',
    'tcg',
    '-m',
    String(options.memoryMb ?? 512),
    '-smp',
    String(options.cpus ?? 2),
    '-display',
    'none',
    '-no-reboot',
    '-nodefaults',
    '-serial',
    'stdio',
    '-kernel',
    image.kernel,
    '-initrd',
    image.initramfs,
    '-append',
    'console=ttyS0 quiet panic=-1 oops=panic',
    ...options.disks.flatMap((disk) => ['-drive', `file=${disk},if=virtio,format=raw`]),
    '-virtfs',
    `local,path=${resultsDir},mount_tag=results,security_model=none,id=results`,
    ...(options.hostRoot
      ? [
          '-virtfs',
          'local,path=/,mount_tag=hostroot,security_model=none,readonly=on,id=hostroot,multidevs=remap',
        ]
      : []),
    ...(options.network ? ['-netdev', 'user,id=n0', '-device', 'virtio-net-pci,netdev=n0'] : []),
  ];
  const started = Date.now();
  const qemu = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  options.cleanup(async () => {
    if (qemu.exitCode === null && qemu.signalCode === null) qemu.kill('SIGKILL');
  });
  const consoleFile = createWriteStream(consolePath);
  const chunks: Buffer[] = [];
  const collect = (chunk: Buffer) => {
    chunks.push(chunk);
    consoleFile.write(chunk);
  };
  qemu.stdout.on('data', collect);
  qemu.stderr.on('data', collect);
  const timer = setTimeout(() => qemu.kill('SIGKILL'), options.timeoutMs);
  const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(
    (resolve, reject) => {
      qemu.on('error', reject);
      qemu.on('close', (code, signal) => resolve({ code, signal }));
    },
  );
  clearTimeout(timer);
  await new Promise<void>((resolve) => consoleFile.end(resolve));
  const text = Buffer.concat(chunks).toString('utf8').replace(/\r/g, '');
  if (exit.signal === 'SIGKILL') {
    const saved = await keepConsole(options.name, consolePath);
    throw new Error(
      `the ${options.name} VM did not power off within ${options.timeoutMs} ms; console saved to ${saved}`,
    );
  }
  const status = /EXL-VM: scenario exit=(\d+)/.exec(text);
  const scenarioLog = await readFile(path.join(resultsDir, 'scenario.log'), 'utf8').catch(() => '');
  return {
    name: options.name,
    resultsDir,
    console: text,
    consolePath,
    scenarioExit: status === null ? null : Number(status[1]),
    kernelProblems: [...text.matchAll(PROBLEM)].map((match) => match[0]),
    scenarioLog,
    elapsedMs: Date.now() - started,
  };
}

/** Copies the results directory (console, scenario log, what the guest wrote) to .tmp/vm-logs/. */
async function keepConsole(name: string, consolePath: string): Promise<string> {
  const saved = path.join(
    checkoutDir,
    '.tmp',
    'vm-logs',
    `${name}-${new Date().toISOString().replace(/[:.]/g, '-')}`,
  );
  await mkdir(path.dirname(saved), { recursive: true });
  await cp(path.dirname(consolePath), saved, { recursive: true });
  return path.join(saved, path.basename(consolePath));
}

/** Runs `checks`; when one fails, saves the guest console and names it in the error. */
export async function keepConsoleOnFailure<T>(vm: VmRun, checks: () => Promise<T>): Promise<T> {
  try {
    return await checks();
  } catch (error) {
    const saved = await keepConsole(vm.name, vm.consolePath);
    if (error instanceof Error) {
      error.message += `\nguest console saved to ${saved}; scenario log:\n${vm.scenarioLog}`;
    }
    throw error;
  }
}

/** Parses `key=value` words (what exlctl prints). */
export function keyValues(text: string): Map<string, string> {
  return new Map([...text.matchAll(/\b([a-z_]+)=(-?[0-9]+)/g)].map((m) => [m[1]!, m[2]!]));
}
