/**
 * Errors of the QMP client (QEMU Machine Protocol, docs/interop/qmp-spec). A command QEMU
 * refuses keeps its error class and description in `details`; the QEMU source turns the
 * refusals it expects (a missing bitmap) into re-baselines, not errors.
 */
import { defineErrorArea, type ErrorCodeTable } from '../../errors/extentlog-error.js';

export const QMP_ERRORS = {
  EXTENTLOG_ERR_QMP_CONNECT: {
    summary:
      'the QMP socket could not be reached or did not greet (no such socket, refused, another client holds it)',
    retriable: true,
  },
  EXTENTLOG_ERR_QMP_PROTOCOL: {
    summary: 'the peer on the QMP socket sent something that is not QMP',
    retriable: false,
  },
  EXTENTLOG_ERR_QMP_COMMAND: {
    summary:
      'QEMU refused a QMP command; details.errorClass and the message carry its error class and description',
    retriable: false,
  },
  EXTENTLOG_ERR_QMP_DISCONNECTED: {
    summary: 'the QMP connection ended while a command or event was awaited (QEMU exited?)',
    retriable: true,
  },
  EXTENTLOG_ERR_QMP_TIMEOUT: {
    summary: 'QEMU did not answer a QMP command, or send an awaited event, in time',
    retriable: true,
  },
} as const satisfies ErrorCodeTable;

export class QmpError extends defineErrorArea('QmpError', QMP_ERRORS) {}
