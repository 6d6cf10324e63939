/**
 * The codec of `<prefix>.restore-points` values: RestorePoint ⇄ Confluent-framed Avro of
 * `restore-point.avsc`.
 */
import { createAvroCodec, type AvroCodec, type AvroCodecOptions } from './avro-codec.js';
import { loadSchemaFile } from './avro-types.js';
import type { RestorePoint } from './restore-point.js';
import { checkSafeCount, safeCount, utf8BoundBytes } from './record-field-problem.js';

export const RESTORE_POINT_SCHEMA = loadSchemaFile('restore-point.avsc');

export type RestorePointCodec = AvroCodec<RestorePoint>;

const COUNTS = ['epoch', 'diskSizeBytes', 'committedAtMs', 'durableAtMs'] as const;
const STRINGS = ['target', 'feed', 'disk', 'sourceReference', 'digest', 'location'] as const;

export function createRestorePointCodec(options: AvroCodecOptions): RestorePointCodec {
  return createAvroCodec<RestorePoint>(
    {
      label: 'restore point',
      schema: RESTORE_POINT_SCHEMA,
      toAvro: (point) => {
        for (const name of COUNTS) checkSafeCount(point[name], [name]);
        return {
          branch: 0,
          fields: point,
          variableBytes: STRINGS.reduce((sum, name) => sum + utf8BoundBytes(point[name]), 0),
        };
      },
      fromAvro: (_branch, fields) => ({
        target: fields.target as string,
        feed: fields.feed as string,
        disk: fields.disk as string,
        epoch: safeCount(fields.epoch as bigint, ['epoch']),
        sourceReference: fields.sourceReference as string,
        digest: fields.digest as string,
        diskSizeBytes: safeCount(fields.diskSizeBytes as bigint, ['diskSizeBytes']),
        committedAtMs: safeCount(fields.committedAtMs as bigint, ['committedAtMs']),
        durableAtMs: safeCount(fields.durableAtMs as bigint, ['durableAtMs']),
        location: fields.location as string | null,
      }),
      describe: (point) => `target ${point.target} disk ${point.disk} epoch ${point.epoch}`,
    },
    options,
  );
}
