/**
 * DeleteTopics (api key 20), versions 0–1:
 *
 *   DeleteTopics Request => [topic_names STRING] timeout_ms
 *
 *   DeleteTopics Response => throttle_time_ms (v1+) [responses]
 *     responses => name error_code
 */
import type { Reader } from './reader.js';
import type { Writer } from './writer.js';

export interface DeleteTopicsRequest {
  readonly topicNames: readonly string[];
  readonly timeoutMs: number;
}

export function decodeDeleteTopicsRequest(reader: Reader, _version: number): DeleteTopicsRequest {
  const topicNames = reader.array((name) => name.string(), 2);
  return { topicNames, timeoutMs: reader.int32() };
}

export function encodeDeleteTopicsResponse(
  writer: Writer,
  version: number,
  results: readonly { name: string; errorCode: number }[],
): void {
  if (version >= 1) writer.int32(0);
  writer.array(results, (w, result) => {
    w.string(result.name).int16(result.errorCode);
  });
}
