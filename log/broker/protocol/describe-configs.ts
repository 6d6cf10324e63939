/**
 * DescribeConfigs (api key 32), versions 0–2:
 *
 *   DescribeConfigs Request => [resources] include_synonyms (v1+)
 *     resources => resource_type (INT8: 2 topic, 4 broker) resource_name
 *                  [configuration_keys STRING] (null = all)
 *
 *   DescribeConfigs Response => throttle_time_ms [results]
 *     results => error_code error_message resource_type resource_name [configs]
 *       configs => name value read_only is_default (v0) | config_source (v1+, INT8)
 *                  is_sensitive [synonyms] (v1+)
 *         synonyms => name value source
 */
import type { Reader } from './reader.js';
import type { Writer } from './writer.js';

export const RESOURCE_TYPE_TOPIC = 2;
export const RESOURCE_TYPE_BROKER = 4;
/** ConfigSource values (KIP-226). */
export const CONFIG_SOURCE_TOPIC = 1;
export const CONFIG_SOURCE_STATIC_BROKER = 4;
export const CONFIG_SOURCE_DEFAULT = 5;

export interface ConfigResource {
  readonly resourceType: number;
  readonly resourceName: string;
  readonly configNames: readonly string[] | null;
}

export interface DescribedConfig {
  readonly name: string;
  readonly value: string | null;
  readonly readOnly: boolean;
  readonly source: number;
}

export interface DescribeConfigsResult {
  readonly errorCode: number;
  readonly errorMessage: string | null;
  readonly resourceType: number;
  readonly resourceName: string;
  readonly configs: readonly DescribedConfig[];
}

export function decodeDescribeConfigsRequest(reader: Reader, version: number): ConfigResource[] {
  const resources = reader.array(
    (resource) => ({
      resourceType: resource.int8(),
      resourceName: resource.string(),
      configNames: resource.nullableArray((name) => name.string(), 2),
    }),
    7,
  );
  if (version >= 1) reader.boolean(); // include_synonyms: we have no synonyms to report
  return resources;
}

export function encodeDescribeConfigsResponse(
  writer: Writer,
  version: number,
  results: readonly DescribeConfigsResult[],
): void {
  writer.int32(0).array(results, (w, result) => {
    w.int16(result.errorCode)
      .nullableString(result.errorMessage)
      .int8(result.resourceType)
      .string(result.resourceName)
      .array(result.configs, (cw, config) => {
        cw.string(config.name).nullableString(config.value).boolean(config.readOnly);
        if (version === 0) cw.boolean(config.source === CONFIG_SOURCE_DEFAULT);
        else cw.int8(config.source);
        cw.boolean(false); // is_sensitive
        if (version >= 1) cw.int32(0); // synonyms
      });
  });
}
