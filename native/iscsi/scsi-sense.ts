/**
 * SCSI sense data as operators should read it: sense keys (SPC-5 §4.4.8, table 52) and the
 * additional sense codes a block target answers with (SPC-5 annex F, the ASC/ASCQ list). A key
 * decides whether repeating the command can help; a code says what happened and, where there
 * is one, the fix. Codes not listed here are shown by number.
 */

export interface SenseKeyInfo {
  readonly name: string;
  /** Whether the same command may succeed after a back-off (or a new session). */
  readonly retriable: boolean;
}

const SENSE_KEYS: Readonly<Record<number, SenseKeyInfo>> = {
  0x0: { name: 'NO SENSE', retriable: true },
  0x1: { name: 'RECOVERED ERROR', retriable: true },
  0x2: { name: 'NOT READY', retriable: true },
  0x3: { name: 'MEDIUM ERROR', retriable: false },
  0x4: { name: 'HARDWARE ERROR', retriable: true },
  0x5: { name: 'ILLEGAL REQUEST', retriable: false },
  0x6: { name: 'UNIT ATTENTION', retriable: true },
  0x7: { name: 'DATA PROTECT', retriable: false },
  0x8: { name: 'BLANK CHECK', retriable: false },
  0x9: { name: 'VENDOR SPECIFIC', retriable: false },
  0xa: { name: 'COPY ABORTED', retriable: true },
  0xb: { name: 'ABORTED COMMAND', retriable: true },
  0xd: { name: 'VOLUME OVERFLOW', retriable: false },
  0xe: { name: 'MISCOMPARE', retriable: false },
  0xf: { name: 'COMPLETED', retriable: false },
};

interface AdditionalSense {
  readonly text: string;
  readonly fix?: string;
  /** Overrides the sense key's verdict (e.g. a thin pool that ran out of space can be grown). */
  readonly retriable?: boolean;
}

/** Keyed by (ASC << 8) | ASCQ. */
const ADDITIONAL_SENSE: ReadonlyMap<number, AdditionalSense> = new Map([
  [0x0000, { text: 'NO ADDITIONAL SENSE INFORMATION' }],
  [0x0300, { text: 'PERIPHERAL DEVICE WRITE FAULT' }],
  [0x0400, { text: 'LOGICAL UNIT NOT READY, CAUSE NOT REPORTABLE' }],
  [0x0401, { text: 'LOGICAL UNIT IS IN PROCESS OF BECOMING READY' }],
  [0x0402, { text: 'LOGICAL UNIT NOT READY, INITIALIZING COMMAND REQUIRED' }],
  [0x0404, { text: 'LOGICAL UNIT NOT READY, FORMAT IN PROGRESS' }],
  [0x0c00, { text: 'WRITE ERROR' }],
  [0x1100, { text: 'UNRECOVERED READ ERROR' }],
  [0x1a00, { text: 'PARAMETER LIST LENGTH ERROR' }],
  [
    0x2000,
    {
      text: 'INVALID COMMAND OPERATION CODE',
      fix: 'the logical unit does not implement this command',
    },
  ],
  [
    0x2100,
    {
      text: 'LOGICAL BLOCK ADDRESS OUT OF RANGE',
      fix: 'the range lies beyond the end of the logical unit',
    },
  ],
  [0x2400, { text: 'INVALID FIELD IN CDB' }],
  [
    0x2500,
    { text: 'LOGICAL UNIT NOT SUPPORTED', fix: 'the target has no logical unit of this number' },
  ],
  [0x2600, { text: 'INVALID FIELD IN PARAMETER LIST' }],
  [0x2700, { text: 'WRITE PROTECTED', fix: 'the logical unit is read-only' }],
  [
    0x2707,
    {
      text: 'SPACE ALLOCATION FAILED WRITE PROTECT',
      fix: "the thin-provisioned logical unit's pool is full: grow the pool",
      retriable: true,
    },
  ],
  [0x2800, { text: 'NOT READY TO READY CHANGE, MEDIUM MAY HAVE CHANGED' }],
  [0x2900, { text: 'POWER ON, RESET, OR BUS DEVICE RESET OCCURRED' }],
  [0x2a01, { text: 'MODE PARAMETERS CHANGED' }],
  [0x2a09, { text: 'CAPACITY DATA HAS CHANGED' }],
  [0x2c00, { text: 'COMMAND SEQUENCE ERROR' }],
  [0x3807, { text: 'THIN PROVISIONING SOFT THRESHOLD REACHED' }],
  [0x3a00, { text: 'MEDIUM NOT PRESENT' }],
  [0x3f0e, { text: 'REPORTED LUNS DATA HAS CHANGED' }],
  [0x4400, { text: 'INTERNAL TARGET FAILURE' }],
  [0x4b00, { text: 'DATA PHASE ERROR' }],
  [0x5503, { text: 'INSUFFICIENT RESOURCES' }],
]);

export interface SenseData {
  readonly senseKey: number;
  readonly asc: number;
  readonly ascq: number;
}

export interface SenseDescription {
  readonly senseKeyName: string;
  readonly additionalSense: string;
  readonly retriable: boolean;
  /** "ILLEGAL REQUEST / INVALID FIELD IN CDB (sense key 0x5, ASC 0x24, ASCQ 0x00)[: fix]" */
  readonly text: string;
}

const hex = (value: number) => `0x${value.toString(16).padStart(2, '0')}`;

export function describeSense({ senseKey, asc, ascq }: SenseData): SenseDescription {
  const key = SENSE_KEYS[senseKey];
  const additional = ADDITIONAL_SENSE.get((asc << 8) | ascq);
  const senseKeyName = key?.name ?? `sense key ${hex(senseKey)}`;
  const additionalSense =
    additional?.text ?? `additional sense ${hex(asc)}/${hex(ascq)} (not in the table)`;
  const retriable = additional?.retriable ?? key?.retriable ?? false;
  const numbers = `sense key ${hex(senseKey)}, ASC ${hex(asc)}, ASCQ ${hex(ascq)}`;
  return {
    senseKeyName,
    additionalSense,
    retriable,
    text: `${senseKeyName} / ${additionalSense} (${numbers})${additional?.fix === undefined ? '' : `: ${additional.fix}`}`,
  };
}

export const SENSE_KEY = {
  NOT_READY: 0x2,
  ILLEGAL_REQUEST: 0x5,
  UNIT_ATTENTION: 0x6,
} as const;

export const ASC = {
  INVALID_COMMAND_OPERATION_CODE: 0x20,
  INVALID_FIELD_IN_CDB: 0x24,
  LOGICAL_UNIT_NOT_SUPPORTED: 0x25,
} as const;
