/**
 * A QMP client (QEMU Machine Protocol, qemu docs/interop/qmp-spec.rst) over a unix socket:
 * the server greets with {"QMP": {version, capabilities}}; the client leaves capabilities
 * negotiation with `qmp_capabilities`; then each {"execute", "arguments", "id"} gets one
 * {"return"} or {"error": {"class", "desc"}} with the same id, in order, and asynchronous
 * {"event", "data", "timestamp"} messages may come in between. Messages are JSON objects,
 * one per line.
 */
import net from 'node:net';
import { describeError } from '../../errors/extentlog-error.js';
import { QmpError } from './errors.js';

export interface QmpEvent {
  readonly event: string;
  readonly data: Record<string, unknown>;
}

interface Pending {
  readonly command: string;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
}

interface EventWaiter {
  readonly matches: (event: QmpEvent) => boolean;
  readonly resolve: (event: QmpEvent) => void;
  readonly reject: (error: Error) => void;
}

const DEFAULT_TIMEOUT_MS = 30_000;
/** Longest line accepted: QMP replies (query-named-block-nodes of many nodes) stay far below. */
const MAX_LINE_BYTES = 64 * 1024 * 1024;

export class QmpClient {
  readonly socketPath: string;
  /** QEMU's version from the greeting, e.g. "7.2.22". */
  readonly version: string;
  readonly #socket: net.Socket;
  readonly #pending = new Map<number, Pending>();
  readonly #waiters = new Set<EventWaiter>();
  #nextId = 1;
  #buffer = '';
  #ended: QmpError | null = null;
  #greeting: ((greeting: Record<string, unknown>) => void) | null = null;

  private constructor(socketPath: string, socket: net.Socket) {
    this.socketPath = socketPath;
    this.#socket = socket;
    this.version = '';
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => this.#onData(text));
    socket.on('close', () =>
      this.#end(
        new QmpError(
          'EXTENTLOG_ERR_QMP_DISCONNECTED',
          `the QMP connection to ${socketPath} ended (QEMU exited, or another client took over)`,
          { details: { socketPath } },
        ),
      ),
    );
    socket.on('error', () => undefined); // 'close' follows and reports it
  }

  /** Connects, reads the greeting and leaves capabilities negotiation. */
  static async connect(
    socketPath: string,
    options: { readonly timeoutMs?: number } = {},
  ): Promise<QmpClient> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const socket = net.connect({ path: socketPath });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', (error: NodeJS.ErrnoException) =>
        reject(
          new QmpError(
            'EXTENTLOG_ERR_QMP_CONNECT',
            `cannot connect to the QMP socket ${socketPath}: ${describeError(error)}${
              error.code === 'ENOENT' ? ' (is QEMU running with -qmp unix:…,server?)' : ''
            }`,
            { cause: error, details: { socketPath, errno: error.code } },
          ),
        ),
      );
    });
    const client = new QmpClient(socketPath, socket);
    try {
      const greeting = await client.#withTimeout(
        timeoutMs,
        'the QMP greeting',
        new Promise<Record<string, unknown>>((resolve) => (client.#greeting = resolve)),
      );
      const qemu = (greeting.version as { qemu?: { major: number; minor: number; micro: number } })
        ?.qemu;
      (client as { version: string }).version = qemu
        ? `${qemu.major}.${qemu.minor}.${qemu.micro}`
        : 'unknown';
      await client.execute('qmp_capabilities', undefined, timeoutMs);
      return client;
    } catch (error) {
      socket.destroy();
      if (error instanceof QmpError && error.code === 'EXTENTLOG_ERR_QMP_TIMEOUT')
        throw new QmpError(
          'EXTENTLOG_ERR_QMP_CONNECT',
          `the QMP socket ${socketPath} did not greet within ${timeoutMs} ms: is another client connected to it?`,
          { cause: error, details: { socketPath } },
        );
      throw error;
    }
  }

  /** Runs a command; resolves with its "return" value. */
  execute<T = unknown>(
    command: string,
    args?: Record<string, unknown>,
    timeoutMs = DEFAULT_TIMEOUT_MS,
  ): Promise<T> {
    if (this.#ended !== null) return Promise.reject(this.#ended);
    const id = this.#nextId++;
    const reply = new Promise<unknown>((resolve, reject) =>
      this.#pending.set(id, { command, resolve, reject }),
    );
    this.#socket.write(
      `${JSON.stringify({ execute: command, ...(args === undefined ? {} : { arguments: args }), id })}\n`,
    );
    return this.#withTimeout(timeoutMs, `the reply to ${command}`, reply, () =>
      this.#pending.delete(id),
    ) as Promise<T>;
  }

  /**
   * Resolves with the next event called `name` that `matches` accepts. Call it before the
   * command that causes the event, so that it cannot be missed.
   */
  nextEvent(
    name: string,
    matches: (data: Record<string, unknown>) => boolean = () => true,
    timeoutMs = DEFAULT_TIMEOUT_MS,
  ): Promise<QmpEvent> {
    if (this.#ended !== null) return Promise.reject(this.#ended);
    let waiter!: EventWaiter;
    const event = new Promise<QmpEvent>((resolve, reject) => {
      waiter = { matches: (event) => event.event === name && matches(event.data), resolve, reject };
      this.#waiters.add(waiter);
    });
    return this.#withTimeout(timeoutMs, `the ${name} event`, event, () =>
      this.#waiters.delete(waiter),
    );
  }

  async close(): Promise<void> {
    if (this.#socket.destroyed) return;
    await new Promise<void>((resolve) => {
      this.#socket.once('close', () => resolve());
      this.#socket.end();
      setTimeout(() => this.#socket.destroy(), 2000).unref();
    });
  }

  #onData(text: string): void {
    this.#buffer += text;
    if (this.#buffer.length > MAX_LINE_BYTES)
      return this.#protocolError(`a message longer than ${MAX_LINE_BYTES} bytes`);
    let newline: number;
    while ((newline = this.#buffer.indexOf('\n')) >= 0) {
      const line = this.#buffer.slice(0, newline).trim();
      this.#buffer = this.#buffer.slice(newline + 1);
      if (line !== '') this.#onMessage(line);
    }
  }

  #onMessage(line: string): void {
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return this.#protocolError(`a line that is not JSON: ${line.slice(0, 200)}`);
    }
    if (this.#greeting !== null) {
      const greeting = message.QMP;
      if (typeof greeting !== 'object' || greeting === null)
        return this.#protocolError(
          `a first message that is not the QMP greeting: ${line.slice(0, 200)}`,
        );
      const resolve = this.#greeting;
      this.#greeting = null;
      return resolve(greeting as Record<string, unknown>);
    }
    if (typeof message.event === 'string') {
      const event: QmpEvent = {
        event: message.event,
        data: (message.data ?? {}) as Record<string, unknown>,
      };
      for (const waiter of this.#waiters)
        if (waiter.matches(event)) {
          this.#waiters.delete(waiter);
          waiter.resolve(event);
        }
      return;
    }
    const id = message.id;
    const pending = typeof id === 'number' ? this.#pending.get(id) : undefined;
    if (pending === undefined) return; // a reply to a command that already timed out
    this.#pending.delete(id as number);
    if ('return' in message) return pending.resolve(message.return);
    const error = (message.error ?? {}) as { class?: string; desc?: string };
    pending.reject(
      new QmpError(
        'EXTENTLOG_ERR_QMP_COMMAND',
        `QEMU refused ${pending.command}: ${error.desc ?? 'no description'} (${error.class ?? 'no class'})`,
        {
          details: {
            command: pending.command,
            errorClass: error.class,
            description: error.desc,
            socketPath: this.socketPath,
          },
        },
      ),
    );
  }

  #protocolError(what: string): void {
    this.#end(
      new QmpError(
        'EXTENTLOG_ERR_QMP_PROTOCOL',
        `${this.socketPath} is not speaking QMP: it sent ${what}`,
        { details: { socketPath: this.socketPath } },
      ),
    );
    this.#socket.destroy();
  }

  #end(error: QmpError): void {
    if (this.#ended !== null) return;
    this.#ended = error;
    for (const pending of this.#pending.values()) pending.reject(error);
    this.#pending.clear();
    for (const waiter of this.#waiters) waiter.reject(error);
    this.#waiters.clear();
  }

  async #withTimeout<T>(
    timeoutMs: number,
    what: string,
    promise: Promise<T>,
    onTimeout?: () => void,
  ): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        onTimeout?.();
        reject(
          new QmpError(
            'EXTENTLOG_ERR_QMP_TIMEOUT',
            `QEMU at ${this.socketPath} did not send ${what} within ${timeoutMs} ms`,
            { details: { socketPath: this.socketPath } },
          ),
        );
      }, timeoutMs);
    });
    try {
      return await Promise.race([promise, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}
