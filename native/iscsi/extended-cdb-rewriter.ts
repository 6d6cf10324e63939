/**
 * Moves CDBs longer than 16 bytes into an Extended CDB AHS (RFC 7143 §11.2.1.2–3), in the
 * initiator → target byte stream of one iSCSI connection.
 *
 * libiscsi (1.19) has a 16-byte CDB field and never sends an AHS, so a variable-length CDB
 * such as GET LBA STATUS(32) cannot be handed to it. The session instead submits the CDB's
 * first 16 bytes with a 32-bit tag in reserved bytes 2–5 of the variable-length CDB (SPC-5
 * §4.2.3); this rewriter finds that SCSI Command PDU, puts the real bytes 0–15 back and
 * inserts the rest of the CDB behind the Basic Header Segment:
 *
 *   BHS (48 bytes)                                         Extended CDB AHS
 *   0    opcode (0x01 SCSI Command)                        0–1  AHSLength = CDB length − 15
 *   4    TotalAHSLength (4-byte words)    ── += words ──▶  2    AHSType = 1
 *   5–7  DataSegmentLength                                 3    reserved
 *   32–47 CDB bytes 0–15                                   4–   CDB bytes 16…, padded to 4
 *
 * Everything else passes through untouched. It relies on the session negotiating no header
 * or data digests (the BHS changes, and a header digest would cover it).
 */

export const BHS_BYTES = 48;
const OPCODE_SCSI_COMMAND = 0x01;
const AHS_TYPE_EXTENDED_CDB = 1;
const VARIABLE_LENGTH_CDB = 0x7f;
const CDB_OFFSET = 32;

/** The tag a submitted variable-length CDB carries in its reserved bytes 2–5. */
export function cdbTag(head: Buffer): number | null {
  return head[0] === VARIABLE_LENGTH_CDB && head.length >= 6 ? head.readUInt32BE(2) : null;
}

/** The 16 bytes handed to libiscsi: the CDB's first 16 bytes with `tag` in bytes 2–5. */
export function taggedHead(cdb: Buffer, tag: number): Buffer {
  const head = Buffer.from(cdb.subarray(0, 16));
  head.writeUInt32BE(tag >>> 0, 2);
  return head;
}

/** The Extended CDB AHS carrying bytes 16… of `cdb`. */
export function extendedCdbAhs(cdb: Buffer): Buffer {
  const rest = cdb.subarray(16);
  const ahs = Buffer.alloc(4 + Math.ceil(rest.length / 4) * 4);
  ahs.writeUInt16BE(rest.length + 1, 0);
  ahs[2] = AHS_TYPE_EXTENDED_CDB;
  rest.copy(ahs, 4);
  return ahs;
}

export class ExtendedCdbRewriter {
  /** Header bytes of the PDU being read, until all 48 are there. */
  private header = Buffer.alloc(BHS_BYTES);
  private headerBytes = 0;
  /** Bytes of the current PDU after its BHS still to pass through. */
  private passBytes = 0;

  /** `lookup(tag)` returns the full CDB submitted under `tag`, or undefined. */
  constructor(private readonly lookup: (tag: number) => Buffer | undefined) {}

  /** Feeds bytes the initiator sent; returns the bytes to send to the target, in order. */
  push(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let at = 0;
    while (at < chunk.length) {
      if (this.passBytes > 0) {
        const take = Math.min(this.passBytes, chunk.length - at);
        out.push(chunk.subarray(at, at + take));
        this.passBytes -= take;
        at += take;
        continue;
      }
      const take = Math.min(BHS_BYTES - this.headerBytes, chunk.length - at);
      chunk.copy(this.header, this.headerBytes, at, at + take);
      this.headerBytes += take;
      at += take;
      if (this.headerBytes < BHS_BYTES) break;
      out.push(...this.completeHeader());
    }
    return out;
  }

  private completeHeader(): Buffer[] {
    const bhs = this.header;
    this.header = Buffer.alloc(BHS_BYTES);
    this.headerBytes = 0;
    const ahsBytes = (bhs[4] ?? 0) * 4;
    const dataBytes = bhs.readUIntBE(5, 3);
    this.passBytes = ahsBytes + Math.ceil(dataBytes / 4) * 4;
    if (((bhs[0] ?? 0) & 0x3f) !== OPCODE_SCSI_COMMAND) return [bhs];
    const tag = cdbTag(bhs.subarray(CDB_OFFSET));
    const cdb = tag === null ? undefined : this.lookup(tag);
    if (cdb === undefined) return [bhs];
    cdb.copy(bhs, CDB_OFFSET, 0, 16);
    const ahs = extendedCdbAhs(cdb);
    bhs[4] = (bhs[4] ?? 0) + ahs.length / 4;
    return [bhs, ahs];
  }
}
