/**
 * Kafka's topic name rules (Kafka `Topic.validate`): 1–249 characters from [a-zA-Z0-9._-],
 * not "." or "..". Names that differ only by "." versus "_" collide (their metric names
 * would), so the second one is refused.
 */
import { StoreError } from './errors.js';

export const MAX_TOPIC_NAME_LENGTH = 249;
const LEGAL_TOPIC_NAME = /^[a-zA-Z0-9._-]+$/;

export function validateTopicName(name: string): void {
  const problem =
    name.length === 0
      ? 'it is empty'
      : name === '.' || name === '..'
        ? `"${name}" is reserved`
        : name.length > MAX_TOPIC_NAME_LENGTH
          ? `it is ${name.length} characters long, the limit is ${MAX_TOPIC_NAME_LENGTH}`
          : !LEGAL_TOPIC_NAME.test(name)
            ? 'it contains characters outside [a-zA-Z0-9._-]'
            : null;
  if (problem !== null)
    throw new StoreError(
      'INVALID_TOPIC_EXCEPTION',
      `topic name "${name}" is not legal: ${problem}`,
      {
        topic: name,
      },
    );
}

/** Two topics with the same collision key cannot both exist. */
export function topicCollisionKey(name: string): string {
  return name.replaceAll('.', '_');
}
