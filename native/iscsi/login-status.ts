/**
 * iSCSI login failures as operators should read them. A target answers a refused Login Request
 * with a Status-Class and Status-Detail (RFC 7143 §11.13.5); libiscsi reports them as
 * "Failed to log in to target. Status: <text>(<class << 8 | detail>)" and a failed mutual CHAP
 * check (the target's CHAP_R does not match its secret) in a text of its own. Initiator errors
 * (class 2) need the configuration fixed; target errors (class 3) may pass.
 */

interface LoginStatusInfo {
  readonly text: string;
  readonly fix: string;
  readonly retriable: boolean;
}

const LOGIN_STATUS: ReadonlyMap<number, LoginStatusInfo> = new Map([
  [
    0x0101,
    {
      text: 'target moved temporarily',
      fix: 'log in at the address the target redirects to',
      retriable: true,
    },
  ],
  [
    0x0102,
    {
      text: 'target moved permanently',
      fix: 'configure the portal the target redirects to',
      retriable: false,
    },
  ],
  [0x0200, { text: 'initiator error', fix: 'check the target configuration', retriable: false }],
  [
    0x0201,
    {
      text: 'authentication failure',
      fix: 'check the CHAP user name and secret configured for this target',
      retriable: false,
    },
  ],
  [
    0x0202,
    {
      text: 'authorization failure',
      fix: "the target's ACL does not allow this initiator IQN: add it on the target",
      retriable: false,
    },
  ],
  [
    0x0203,
    {
      text: 'target not found',
      fix: 'no target of this IQN is served at the portal: check the target IQN',
      retriable: false,
    },
  ],
  [
    0x0204,
    {
      text: 'target removed',
      fix: 'the target was removed from the portal',
      retriable: false,
    },
  ],
  [
    0x0205,
    {
      text: 'unsupported version',
      fix: 'the target speaks another iSCSI version',
      retriable: false,
    },
  ],
  [
    0x0206,
    {
      text: 'too many connections',
      fix: 'close other sessions of this initiator',
      retriable: true,
    },
  ],
  [0x0207, { text: 'missing parameter', fix: 'check the target configuration', retriable: false }],
  [
    0x0209,
    { text: 'session type not supported', fix: 'check the target configuration', retriable: false },
  ],
  [0x0300, { text: 'target error', fix: 'see the target log', retriable: true }],
  [0x0301, { text: 'service unavailable', fix: 'the target is starting or busy', retriable: true }],
  [0x0302, { text: 'out of resources', fix: 'the target is out of resources', retriable: true }],
]);

export interface LoginFailure {
  /** Status-Class << 8 | Status-Detail, when the target sent one. */
  readonly status: number | null;
  readonly reason: string;
  readonly fix: string;
  readonly retriable: boolean;
}

/** Reads libiscsi's login error text. */
export function describeLoginFailure(libiscsiMessage: string): LoginFailure {
  if (/CHAP_R|CHAP targetname/i.test(libiscsiMessage))
    return {
      status: null,
      reason: 'mutual CHAP failed: the target did not prove it knows the target secret',
      fix: "check targetChap (user name and secret) against the target's outgoing account",
      retriable: false,
    };
  const match = /Status: .*\((\d+)\)\s*$/.exec(libiscsiMessage);
  const status = match?.[1] === undefined ? null : Number(match[1]);
  const info = status === null ? undefined : LOGIN_STATUS.get(status);
  if (status === null || info === undefined)
    return {
      status,
      reason: libiscsiMessage,
      fix: 'see the target log',
      retriable: status !== null && status >> 8 === 3,
    };
  return { status, reason: info.text, fix: info.fix, retriable: info.retriable };
}
