/**
 * A TCP tap between an iSCSI initiator and a target portal that records the SCSI commands on
 * the wire (RFC 7143: SCSI Command PDUs, opcode 0x01, CDB at BHS bytes 32–47; SCSI Response
 * PDUs, opcode 0x21, status at byte 3; Data-In with the S bit, opcode 0x25) into a timeline
 * tests can add their own events to. Each initiator connection gets its own upstream
 * connection; when the target is down the initiator's connection is closed at once, as a
 * refused connection would be.
 *
 * `uncoveredWrites()` is the durability check: the writes (WRITE(16), WRITE SAME(16), UNMAP)
 * acknowledged so far that no later SYNCHRONIZE CACHE(16) on a live connection covers. A write
 * acknowledged on a connection that then broke counts as covered only once the same command
 * (same CDB) was acknowledged again and synchronized on a later connection: the target may
 * have lost it with its cache.
 */
import net from 'node:net';

const OPCODE_SCSI_COMMAND = 0x01;
const OPCODE_SCSI_RESPONSE = 0x21;
const OPCODE_DATA_IN = 0x25;
const WRITES = new Set([0x8a, 0x93, 0x42]);
const SYNCHRONIZE_CACHE_16 = 0x91;

export type TapEvent =
  | {
      readonly kind: 'command';
      readonly connection: number;
      readonly itt: number;
      readonly cdb: string;
    }
  | {
      readonly kind: 'response';
      readonly connection: number;
      readonly itt: number;
      readonly cdb: string;
      readonly status: number;
    }
  | { readonly kind: 'closed'; readonly connection: number }
  | { readonly kind: 'mark'; readonly label: string; readonly data?: unknown };

/** Splits a byte stream into PDUs (no digests) and hands each BHS to `onHeader`. */
class PduFramer {
  private header = Buffer.alloc(48);
  private headerBytes = 0;
  private skip = 0;

  constructor(private readonly onHeader: (bhs: Buffer) => void) {}

  push(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.skip > 0) {
        const take = Math.min(this.skip, chunk.length - at);
        this.skip -= take;
        at += take;
        continue;
      }
      const take = Math.min(48 - this.headerBytes, chunk.length - at);
      chunk.copy(this.header, this.headerBytes, at, at + take);
      this.headerBytes += take;
      at += take;
      if (this.headerBytes < 48) return;
      const bhs = this.header;
      this.header = Buffer.alloc(48);
      this.headerBytes = 0;
      this.skip = (bhs[4] ?? 0) * 4 + Math.ceil(bhs.readUIntBE(5, 3) / 4) * 4;
      this.onHeader(bhs);
    }
  }
}

export class IscsiTap {
  readonly timeline: TapEvent[] = [];
  private readonly sockets = new Set<net.Socket>();
  private connections = 0;

  private constructor(
    private readonly server: net.Server,
    readonly portal: string,
  ) {}

  static async start(upstreamPort: number): Promise<IscsiTap> {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const tap = new IscsiTap(server, `127.0.0.1:${(server.address() as net.AddressInfo).port}`);
    server.on('connection', (socket) => tap.relay(socket, upstreamPort));
    return tap;
  }

  mark(label: string, data?: unknown): void {
    this.timeline.push(
      data === undefined ? { kind: 'mark', label } : { kind: 'mark', label, data },
    );
  }

  /** SCSI commands seen with this CDB opcode. */
  commands(opcode: number): number {
    return this.timeline.filter(
      (event) => event.kind === 'command' && parseInt(event.cdb.slice(0, 2), 16) === opcode,
    ).length;
  }

  /** Acknowledged writes no SYNCHRONIZE CACHE covers yet, as of the end of the timeline or of `upTo`. */
  uncoveredWrites(upTo = this.timeline.length): string[] {
    const acknowledged = new Map<number, string[]>(); // connection → CDBs acknowledged there
    const uncovered = new Map<string, number>(); // CDB → times acknowledged and not covered
    const syncs = new Map<string, string[]>(); // connection/itt → the CDBs a sync covers
    for (const event of this.timeline.slice(0, upTo)) {
      if (event.kind === 'command' && parseInt(event.cdb.slice(0, 2), 16) === SYNCHRONIZE_CACHE_16)
        syncs.set(`${event.connection}/${event.itt}`, [
          ...(acknowledged.get(event.connection) ?? []),
        ]);
      if (event.kind !== 'response' || event.status !== 0) continue;
      const opcode = parseInt(event.cdb.slice(0, 2), 16);
      if (WRITES.has(opcode)) {
        acknowledged.set(event.connection, [
          ...(acknowledged.get(event.connection) ?? []),
          event.cdb,
        ]);
        uncovered.set(event.cdb, (uncovered.get(event.cdb) ?? 0) + 1);
      } else if (opcode === SYNCHRONIZE_CACHE_16) {
        for (const cdb of syncs.get(`${event.connection}/${event.itt}`) ?? [])
          uncovered.delete(cdb);
        acknowledged.set(event.connection, []);
      }
    }
    return [...uncovered.keys()];
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private relay(downstream: net.Socket, upstreamPort: number): void {
    const connection = ++this.connections;
    const upstream = net.connect(upstreamPort, '127.0.0.1');
    this.sockets.add(downstream);
    this.sockets.add(upstream);
    const outstanding = new Map<number, string>();
    const toTarget = new PduFramer((bhs) => {
      if (((bhs[0] ?? 0) & 0x3f) !== OPCODE_SCSI_COMMAND) return;
      const itt = bhs.readUInt32BE(16);
      const cdb = bhs.subarray(32, 48).toString('hex');
      outstanding.set(itt, cdb);
      this.timeline.push({ kind: 'command', connection, itt, cdb });
    });
    const toInitiator = new PduFramer((bhs) => {
      const opcode = (bhs[0] ?? 0) & 0x3f;
      const withStatus =
        opcode === OPCODE_SCSI_RESPONSE ||
        (opcode === OPCODE_DATA_IN && ((bhs[1] ?? 0) & 0x01) !== 0);
      if (!withStatus) return;
      const itt = bhs.readUInt32BE(16);
      const cdb = outstanding.get(itt);
      if (cdb === undefined) return;
      outstanding.delete(itt);
      this.timeline.push({ kind: 'response', connection, itt, cdb, status: bhs[3] ?? 0 });
    });
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      this.timeline.push({ kind: 'closed', connection });
      downstream.destroy();
      upstream.destroy();
      this.sockets.delete(downstream);
      this.sockets.delete(upstream);
    };
    downstream.on('data', (chunk: Buffer) => {
      toTarget.push(chunk);
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      toInitiator.push(chunk);
      downstream.write(chunk);
    });
    for (const socket of [downstream, upstream]) {
      socket.on('error', close);
      socket.on('close', close);
    }
  }
}
