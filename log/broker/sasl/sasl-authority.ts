/**
 * SASL authentication of broker connections (Kafka KIP-43 / KIP-152): the configured users
 * and the mechanisms offered to them. Each connection runs one `SaslExchange`, fed the
 * client's tokens in order until it reports `done`.
 */
import { createPlainExchange } from './plain.js';
import { createScramExchange, scramCredentials, type ScramCredentials } from './scram.js';

export interface SaslUser {
  readonly username: string;
  readonly password: string;
}

export const SASL_MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'] as const;
export type SaslMechanism = (typeof SASL_MECHANISMS)[number];

export interface SaslStep {
  readonly response: Buffer;
  /** True once the client is authenticated. */
  readonly done: boolean;
}

export interface SaslExchange {
  readonly mechanism: SaslMechanism;
  /** Processes one client token; throws `SaslFailure` when authentication fails. */
  step(token: Buffer): SaslStep;
}

/** Authentication failed; the message is safe to send to the client (names no secret). */
export class SaslFailure extends Error {
  override readonly name = 'SaslFailure';
}

export class SaslAuthority {
  private readonly passwords: ReadonlyMap<string, string>;
  private readonly scram: ReadonlyMap<string, ScramCredentials>;

  constructor(users: readonly SaslUser[]) {
    this.passwords = new Map(users.map((user) => [user.username, user.password]));
    const scram = new Map<string, ScramCredentials>();
    for (const user of users) {
      for (const hash of ['sha256', 'sha512'] as const) {
        scram.set(`${hash}:${user.username}`, scramCredentials(hash, user.password));
      }
    }
    this.scram = scram;
  }

  mechanisms(): readonly string[] {
    return SASL_MECHANISMS;
  }

  start(mechanism: string): SaslExchange | undefined {
    switch (mechanism) {
      case 'PLAIN':
        return createPlainExchange((username) => this.passwords.get(username));
      case 'SCRAM-SHA-256':
        return createScramExchange(mechanism, 'sha256', (user) => this.scram.get(`sha256:${user}`));
      case 'SCRAM-SHA-512':
        return createScramExchange(mechanism, 'sha512', (user) => this.scram.get(`sha512:${user}`));
      default:
        return undefined;
    }
  }
}
