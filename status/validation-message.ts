/**
 * Turns Ajv's validation errors into one sentence that names the field, what it expects
 * and, for an unknown field, its name (which Ajv's own text omits):
 *   body.reason: must NOT have fewer than 1 characters
 *   body: unknown field 'disk'
 *   querystring.target: must match pattern "^[A-Za-z0-9]…"
 */
import type { FastifySchemaValidationError } from 'fastify/types/schema.js';

/** `/disks/0` under `body` → `body.disks[0]` */
export function fieldPath(dataVar: string, instancePath: string): string {
  return instancePath
    .split('/')
    .slice(1)
    .reduce(
      (path, segment) =>
        /^\d+$/.test(segment)
          ? `${path}[${segment}]`
          : `${path}.${segment.replace(/~1/g, '/').replace(/~0/g, '~')}`,
      dataVar,
    );
}

export function formatValidationErrors(
  errors: readonly FastifySchemaValidationError[],
  dataVar: string,
): string {
  return errors
    .map((error) => {
      const path = fieldPath(dataVar, error.instancePath);
      const params = error.params as Record<string, unknown>;
      switch (error.keyword) {
        case 'additionalProperties':
          return `${path}: unknown field '${String(params.additionalProperty)}'`;
        case 'required':
          return `${path}.${String(params.missingProperty)}: is required`;
        case 'enum':
          return `${path}: ${error.message ?? 'is not allowed'} (${(params.allowedValues as unknown[]).join(', ')})`;
        default:
          return `${path}: ${error.message ?? `fails ${error.keyword}`}`;
      }
    })
    .join('; ');
}
