#!/usr/bin/env node
/**
 * The `extentlog` command. Each subcommand is its own composition root in `bin/commands/`,
 * loaded on demand so that `extentlog broker` does not pay for the S3 SDK and vice versa.
 */
import process from 'node:process';

// File I/O (pwrite, fdatasync of many partitions and targets) runs on libuv's thread pool,
// which is created on first use with 4 threads unless told otherwise.
process.env.UV_THREADPOOL_SIZE ??= '16';

interface Command {
  readonly summary: string;
  load(): Promise<{ main(argv: string[]): Promise<number> }>;
}

const commands: Record<string, Command> = {
  run: {
    summary: 'run the feeds and targets of a configuration (until stopped, or --once)',
    load: () => import('./commands/run.js'),
  },
  demo: {
    summary: 'replicate a sample disk into two targets on the embedded broker and prove it',
    load: () => import('./commands/demo.js'),
  },
  verify: {
    summary: "compare each target's latest restore point with its source disk (sha256)",
    load: () => import('./commands/verify.js'),
  },
  restore: {
    summary: 'write a disk as of a restore point to an image file or a block device',
    load: () => import('./commands/restore.js'),
  },
  status: {
    summary: "show a running process's feeds, targets, lag, restore points and errors",
    load: () => import('./commands/status.js'),
  },
  broker: {
    summary: 'run the embedded Kafka-compatible broker and schema registry standalone',
    load: () => import('./commands/broker.js'),
  },
  s3: {
    summary: 'list, restore, verify, retain and garbage-collect the restore points of an S3 target',
    load: () => import('./commands/s3.js'),
  },
};

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((name) => name.length));
  const lines = Object.entries(commands).map(
    ([name, command]) => `  ${name.padEnd(width)}  ${command.summary}`,
  );
  return `usage: extentlog <command> [options]\n\ncommands:\n${lines.join('\n')}\n\nRun 'extentlog <command> --help' for a command's options.`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${usage()}\n`);
    return name === undefined ? 2 : 0;
  }
  const command = commands[name];
  if (command === undefined) {
    process.stderr.write(`extentlog: unknown command '${name}'\n\n${usage()}\n`);
    return 2;
  }
  const module = await command.load();
  return module.main(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(
      `extentlog: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = 1;
  },
);
