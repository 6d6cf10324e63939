/**
 * Translates the addon's rejections into `NativeError`. The addon rejects with an Error whose
 * `kind` says what failed — 'connect' (TCP), 'login', 'scsi' (a command's status, with
 * `senseKey`/`asc`/`ascq` for CHECK CONDITION), 'connection' (the connection broke),
 * 'timeout', 'closed', 'submit' (libiscsi refused to queue) or 'usage' — and whose message is
 * libiscsi's. Sense data and login status go through the tables in scsi-sense.ts and
 * login-status.ts, so messages say what happened and what to do.
 */
import { NativeError } from '../errors.js';
import { describeLoginFailure } from './login-status.js';
import { ASC, describeSense, SENSE_KEY, type SenseData } from './scsi-sense.js';

export interface IscsiLunAddress {
  /** host:port (IPv6 in brackets); the port defaults to 3260. */
  readonly portal: string;
  readonly targetIqn: string;
  readonly lun: number;
}

interface AddonFailure {
  readonly message?: string;
  readonly kind?: string;
  readonly command?: string;
  readonly scsiStatus?: number;
  readonly senseKey?: number;
  readonly asc?: number;
  readonly ascq?: number;
}

/** SCSI statuses other than CHECK CONDITION (SAM-5 §5.3.1). */
const SCSI_STATUS: Readonly<Record<number, { name: string; retriable: boolean }>> = {
  0x08: { name: 'BUSY', retriable: true },
  0x18: { name: 'RESERVATION CONFLICT', retriable: false },
  0x28: { name: 'TASK SET FULL', retriable: true },
  0x30: { name: 'ACA ACTIVE', retriable: true },
  0x40: { name: 'TASK ABORTED', retriable: true },
};

function where(address: IscsiLunAddress): string {
  return `${address.targetIqn} LUN ${address.lun} at ${address.portal}`;
}

function libiscsiText(message: string | undefined): string {
  return (message ?? 'no reason given')
    .replace(/^[A-Z0-9 ()/]+: /, '')
    .replace(/^iscsi_service: /, '')
    .replace(/\.$/, '');
}

/** The sense data a failed command carried, if it failed with CHECK CONDITION. */
export function senseOf(error: unknown): SenseData | undefined {
  if (!(error instanceof NativeError) || error.code !== 'EXTENTLOG_ERR_NATIVE_ISCSI_SCSI')
    return undefined;
  const { senseKey, asc, ascq } = error.details;
  return typeof senseKey === 'number' && typeof asc === 'number' && typeof ascq === 'number'
    ? { senseKey, asc, ascq }
    : undefined;
}

/**
 * ILLEGAL REQUEST for the operation code or a field of the CDB: the device does not do this
 * command (or this form of it), so the caller's fallback applies.
 */
export function refusesCommand(error: unknown): boolean {
  const sense = senseOf(error);
  return (
    sense !== undefined &&
    sense.senseKey === SENSE_KEY.ILLEGAL_REQUEST &&
    (sense.asc === ASC.INVALID_COMMAND_OPERATION_CODE || sense.asc === ASC.INVALID_FIELD_IN_CDB)
  );
}

export function connectFailure(
  address: IscsiLunAddress,
  reason: string,
  cause?: unknown,
): NativeError {
  return new NativeError(
    'EXTENTLOG_ERR_NATIVE_ISCSI_CONNECT',
    `iSCSI portal ${address.portal} (target ${address.targetIqn}) cannot be reached: ${reason}; check the portal address and that the target runs`,
    { cause, details: { ...address } },
  );
}

export function iscsiFailure(
  error: unknown,
  address: IscsiLunAddress,
  commandTimeoutMs: number,
): unknown {
  if (error instanceof NativeError || !(error instanceof Error)) return error;
  const failure = error as AddonFailure;
  const command = failure.command ?? 'login';
  const text = libiscsiText(failure.message);
  const details = { ...address, command };
  switch (failure.kind) {
    case 'connect':
      return connectFailure(address, text, error);
    case 'login': {
      const login = describeLoginFailure(text);
      return new NativeError(
        'EXTENTLOG_ERR_NATIVE_ISCSI_LOGIN',
        `target ${address.targetIqn} at ${address.portal} refused the login: ${login.reason}` +
          `${login.status === null ? '' : ` (status 0x${login.status.toString(16).padStart(4, '0')})`}: ${login.fix}`,
        {
          cause: error,
          retriable: login.retriable,
          details: { ...details, loginStatus: login.status },
        },
      );
    }
    case 'scsi': {
      if (failure.senseKey !== undefined && failure.asc !== undefined) {
        const sense = { senseKey: failure.senseKey, asc: failure.asc, ascq: failure.ascq ?? 0 };
        const described = describeSense(sense);
        if (sense.asc === ASC.LOGICAL_UNIT_NOT_SUPPORTED)
          return new NativeError(
            'EXTENTLOG_ERR_NATIVE_ISCSI_NO_LUN',
            `target ${address.targetIqn} at ${address.portal} has no LUN ${address.lun} (${described.text}); check the LUN number`,
            { cause: error, details: { ...details, ...sense } },
          );
        return new NativeError(
          'EXTENTLOG_ERR_NATIVE_ISCSI_SCSI',
          `${command} on ${where(address)} failed: ${described.text}`,
          {
            cause: error,
            retriable: described.retriable,
            details: {
              ...details,
              ...sense,
              senseKeyName: described.senseKeyName,
              additionalSense: described.additionalSense,
            },
          },
        );
      }
      const status = SCSI_STATUS[failure.scsiStatus ?? -1];
      return new NativeError(
        'EXTENTLOG_ERR_NATIVE_ISCSI_SCSI',
        `${command} on ${where(address)} failed with SCSI status ${status?.name ?? `0x${(failure.scsiStatus ?? 0).toString(16)}`}: ${text}`,
        {
          cause: error,
          retriable: status?.retriable ?? false,
          details: { ...details, scsiStatus: failure.scsiStatus },
        },
      );
    }
    case 'connection':
    case 'submit':
      return new NativeError(
        'EXTENTLOG_ERR_NATIVE_ISCSI_CONNECTION_LOST',
        `the connection to ${where(address)} broke during ${command}: ${text}`,
        { cause: error, details },
      );
    case 'timeout':
      return new NativeError(
        'EXTENTLOG_ERR_NATIVE_ISCSI_TIMEOUT',
        `${command} on ${where(address)} got no answer within ${commandTimeoutMs} ms; the session was dropped`,
        { cause: error, details: { ...details, commandTimeoutMs } },
      );
    case 'closed':
    case 'usage':
      return new NativeError(
        'EXTENTLOG_ERR_NATIVE_ISCSI_CLOSED',
        `${command} on ${where(address)}: the session is closed (${text})`,
        { cause: error, details },
      );
    default:
      return error;
  }
}
