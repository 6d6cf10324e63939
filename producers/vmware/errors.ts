/**
 * Errors of the vSphere Web Services client (SOAP over HTTPS, `urn:vim25`). A SOAP fault
 * keeps its vSphere fault type (`details.faultType`: InvalidLogin, FileFault,
 * InvalidArgument, NotAuthenticated, …); the VMware source turns the faults that mean
 * "changed block tracking was reset" into re-baselines, not errors.
 */
import { defineErrorArea, type ErrorCodeTable } from '../../errors/extentlog-error.js';

export const VSPHERE_ERRORS = {
  EXTENTLOG_ERR_VSPHERE_CONNECT: {
    summary:
      'vCenter or ESXi could not be reached, or its TLS certificate did not match the CA or thumbprint',
    retriable: true,
  },
  EXTENTLOG_ERR_VSPHERE_AUTH: {
    summary: 'vSphere refused the login (InvalidLogin, NoPermission, NotAuthenticated)',
    retriable: false,
  },
  EXTENTLOG_ERR_VSPHERE_FAULT: {
    summary: 'a vSphere method failed with a SOAP fault; details.faultType names the vSphere fault',
    retriable: true,
  },
  EXTENTLOG_ERR_VSPHERE_TASK: {
    summary:
      'a vSphere task (reconfigure, create or remove snapshot) ended in error or did not finish in time',
    retriable: true,
  },
  EXTENTLOG_ERR_VSPHERE_PROTOCOL: {
    summary: 'the answer from the vSphere endpoint is not the SOAP the client expects',
    retriable: false,
  },
  EXTENTLOG_ERR_VSPHERE_NOT_FOUND: {
    summary: 'the configured VM or virtual disk does not exist in vSphere',
    retriable: false,
  },
} as const satisfies ErrorCodeTable;

export class VsphereError extends defineErrorArea('VsphereError', VSPHERE_ERRORS) {}
