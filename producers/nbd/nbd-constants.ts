/**
 * Numbers of the NBD protocol (NetworkBlockDevice/nbd doc/proto.md), by section:
 * "Fixed newstyle negotiation" (magics), "Option types", "Option reply types", the INFO
 * extension (NBD_OPT_INFO/NBD_OPT_GO, NBD_INFO_*), "Transmission flags", "Request types",
 * "Structured reply types" and "Metadata contexts". All fields are big-endian.
 */

/** 'NBDMAGIC', sent first by every server. */
export const NBD_INIT_MAGIC = 0x4e42444d41474943n;
/** 'IHAVEOPT': the newstyle magic, and the prefix of every option the client sends. */
export const NBD_OPTS_MAGIC = 0x49484156454f5054n;
/** Prefix of every option reply. */
export const NBD_OPT_REPLY_MAGIC = 0x3e889045565a9n;
export const NBD_REQUEST_MAGIC = 0x25609513;
export const NBD_SIMPLE_REPLY_MAGIC = 0x67446698;
export const NBD_STRUCTURED_REPLY_MAGIC = 0x668e33ef;

// Handshake flags (server) and client flags.
export const NBD_FLAG_FIXED_NEWSTYLE = 1 << 0;
export const NBD_FLAG_NO_ZEROES = 1 << 1;
export const NBD_FLAG_C_FIXED_NEWSTYLE = 1 << 0;
export const NBD_FLAG_C_NO_ZEROES = 1 << 1;

export const NBD_OPT = {
  EXPORT_NAME: 1,
  ABORT: 2,
  LIST: 3,
  STARTTLS: 5,
  INFO: 6,
  GO: 7,
  STRUCTURED_REPLY: 8,
  LIST_META_CONTEXT: 9,
  SET_META_CONTEXT: 10,
} as const;

export const NBD_REP_ACK = 1;
export const NBD_REP_SERVER = 2;
export const NBD_REP_INFO = 3;
export const NBD_REP_META_CONTEXT = 4;
/** Error replies have bit 31 set. */
export const NBD_REP_FLAG_ERROR = 0x80000000;
export const NBD_REP_ERR = {
  UNSUP: 0x80000001,
  POLICY: 0x80000002,
  INVALID: 0x80000003,
  PLATFORM: 0x80000004,
  TLS_REQD: 0x80000005,
  UNKNOWN: 0x80000006,
  SHUTDOWN: 0x80000007,
  BLOCK_SIZE_REQD: 0x80000008,
  TOO_BIG: 0x80000009,
} as const;

export const NBD_INFO_EXPORT = 0;
export const NBD_INFO_NAME = 1;
export const NBD_INFO_DESCRIPTION = 2;
export const NBD_INFO_BLOCK_SIZE = 3;

// Transmission flags.
export const NBD_FLAG_HAS_FLAGS = 1 << 0;
export const NBD_FLAG_READ_ONLY = 1 << 1;
export const NBD_FLAG_SEND_DF = 1 << 7;
export const NBD_FLAG_CAN_MULTI_CONN = 1 << 8;

export const NBD_CMD = {
  READ: 0,
  WRITE: 1,
  DISC: 2,
  FLUSH: 3,
  TRIM: 4,
  CACHE: 5,
  WRITE_ZEROES: 6,
  BLOCK_STATUS: 7,
} as const;

export const NBD_REPLY_FLAG_DONE = 1 << 0;
export const NBD_REPLY_TYPE = {
  NONE: 0,
  OFFSET_DATA: 1,
  OFFSET_HOLE: 2,
  BLOCK_STATUS: 5,
  ERROR: 0x8001,
  ERROR_OFFSET: 0x8002,
} as const;
/** Error chunk types have bit 15 set. */
export const NBD_REPLY_TYPE_ERROR_BIT = 0x8000;

/** `base:allocation` flags. */
export const NBD_STATE_HOLE = 1 << 0;
export const NBD_STATE_ZERO = 1 << 1;
/** `qemu:dirty-bitmap:NAME` flag (QEMU docs/interop/nbd.rst). */
export const NBD_STATE_DIRTY = 1 << 0;

export const BASE_ALLOCATION = 'base:allocation';
export const DIRTY_BITMAP_PREFIX = 'qemu:dirty-bitmap:';

/** Request header: magic, flags, type, handle, offset, length. */
export const REQUEST_HEADER_BYTES = 28;
export const SIMPLE_REPLY_HEADER_BYTES = 16;
export const STRUCTURED_REPLY_HEADER_BYTES = 20;

export function optionName(option: number): string {
  const entry = Object.entries(NBD_OPT).find(([, value]) => value === option);
  return entry === undefined ? `option ${option}` : `NBD_OPT_${entry[0]}`;
}

export function commandName(command: number): string {
  const entry = Object.entries(NBD_CMD).find(([, value]) => value === command);
  return entry === undefined ? `command ${command}` : `NBD_CMD_${entry[0]}`;
}

export function optionReplyName(reply: number): string {
  if (reply === NBD_REP_ACK) return 'NBD_REP_ACK';
  if (reply === NBD_REP_SERVER) return 'NBD_REP_SERVER';
  if (reply === NBD_REP_INFO) return 'NBD_REP_INFO';
  if (reply === NBD_REP_META_CONTEXT) return 'NBD_REP_META_CONTEXT';
  const entry = Object.entries(NBD_REP_ERR).find(([, value]) => value === reply);
  return entry === undefined ? `reply type 0x${reply.toString(16)}` : `NBD_REP_ERR_${entry[0]}`;
}
