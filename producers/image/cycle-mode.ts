/**
 * Whether the image source can hash-compare against its previous cycle, or must read the
 * whole disk. An incremental needs the hash file of exactly the cycle the log last
 * committed, written with the same algorithm and block size, for a disk of the same size;
 * anything else is a visible re-baseline whose reason names what did not match.
 */
import type { CommittedReference } from '../source.js';
import { algorithmNameOf } from './block-hasher.js';
import type { HashFileHeader, HashFileStatus } from './hash-file.js';

export interface CycleModeInput {
  readonly since: CommittedReference | null;
  readonly status: HashFileStatus;
  readonly hashFilePath: string;
  readonly algorithmId: number;
  readonly blockSizeBytes: number;
  readonly diskSizeBytes: number;
}

export type CycleChoice =
  | { readonly mode: 'FULL'; readonly rebaselineReason?: string }
  | { readonly mode: 'INCREMENTAL'; readonly base: HashFileHeader };

export function chooseCycleMode(input: CycleModeInput): CycleChoice {
  const { since, status, hashFilePath } = input;
  // No committed cycle (or the caller asked for a re-baseline): a FULL is not a re-baseline.
  if (since === null) return { mode: 'FULL' };
  const full = (why: string): CycleChoice => ({
    mode: 'FULL',
    rebaselineReason: `${why}; reading the whole disk`,
  });
  if (status.kind === 'missing')
    return full(
      `no hash file ${hashFilePath} for the committed cycle ${since.reference} (epoch ${since.epoch}): the state directory is new or was reset`,
    );
  if (status.kind === 'invalid')
    return full(`hash file ${hashFilePath} is unusable: ${status.reason}`);
  const { header } = status;
  if (header.reference !== since.reference)
    return full(
      `hash file ${hashFilePath} was written by cycle ${header.reference}, but the last committed cycle is ${since.reference} (epoch ${since.epoch})`,
    );
  if (header.algorithmId !== input.algorithmId)
    return full(
      `hash file ${hashFilePath} holds ${algorithmNameOf(header.algorithmId)} digests, this source computes ${algorithmNameOf(input.algorithmId)}`,
    );
  if (header.blockSizeBytes !== input.blockSizeBytes)
    return full(
      `hash file ${hashFilePath} has ${header.blockSizeBytes}-byte blocks, this source uses ${input.blockSizeBytes}-byte blocks`,
    );
  if (header.diskSizeBytes !== input.diskSizeBytes)
    return full(
      `disk size changed from ${header.diskSizeBytes} to ${input.diskSizeBytes} bytes since cycle ${header.reference}`,
    );
  return { mode: 'INCREMENTAL', base: header };
}
