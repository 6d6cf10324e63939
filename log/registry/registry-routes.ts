/**
 * The HTTP surface of the embedded registry: the subset of the Confluent Schema Registry
 * REST API (v1, content type application/vnd.schemaregistry.v1+json) that Confluent's
 * serializers, kafka-avro-console-consumer and @kafkajs/confluent-schema-registry call.
 * Request shapes are checked by the route schemas; meaning by RegistryService.
 */
import type { FastifyInstance } from 'fastify';
import type { RegistryService, SchemaBody } from './registry-service.js';

export const REGISTRY_CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';

const subjectParams = {
  type: 'object',
  required: ['subject'],
  properties: { subject: { type: 'string', minLength: 1 } },
} as const;

const versionParams = {
  type: 'object',
  required: ['subject', 'version'],
  properties: { subject: { type: 'string', minLength: 1 }, version: { type: 'string' } },
} as const;

const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'integer', minimum: 1, maximum: 2147483647 } },
} as const;

const schemaBody = {
  type: 'object',
  required: ['schema'],
  properties: {
    schema: { type: 'string', minLength: 1 },
    schemaType: { type: 'string' },
    references: { type: 'array' },
  },
} as const;

const levelBody = {
  type: 'object',
  required: ['compatibility'],
  properties: { compatibility: { type: 'string' } },
} as const;

const flagQuery = (...names: string[]) => ({
  type: 'object',
  properties: Object.fromEntries(names.map((name) => [name, { type: 'boolean' }])),
});

interface SubjectRoute {
  Params: { subject: string };
}
interface VersionRoute {
  Params: { subject: string; version: string };
}
interface IdRoute {
  Params: { id: number };
}
interface Flags {
  Querystring: { deleted?: boolean; permanent?: boolean; defaultToGlobal?: boolean };
}

export function registryRoutes(app: FastifyInstance, service: RegistryService): void {
  app.get('/', async () => ({}));
  app.get('/schemas/types', async () => ['AVRO']);

  app.get<IdRoute>('/schemas/ids/:id', { schema: { params: idParams } }, async (request) =>
    service.schemaById(request.params.id),
  );
  app.get<IdRoute>(
    '/schemas/ids/:id/schema',
    { schema: { params: idParams } },
    async (request, reply) =>
      reply.type(REGISTRY_CONTENT_TYPE).send(service.schemaById(request.params.id).schema),
  );
  app.get<IdRoute & Flags>(
    '/schemas/ids/:id/versions',
    { schema: { params: idParams, querystring: flagQuery('deleted') } },
    async (request) => service.schemaUsages(request.params.id, request.query.deleted === true),
  );
  app.get<IdRoute & Flags>(
    '/schemas/ids/:id/subjects',
    { schema: { params: idParams, querystring: flagQuery('deleted') } },
    async (request) => [
      ...new Set(
        service
          .schemaUsages(request.params.id, request.query.deleted === true)
          .map(({ subject }) => subject),
      ),
    ],
  );

  app.get<Flags>('/subjects', { schema: { querystring: flagQuery('deleted') } }, async (request) =>
    service.subjects(request.query.deleted === true),
  );
  app.get<SubjectRoute & Flags>(
    '/subjects/:subject/versions',
    { schema: { params: subjectParams, querystring: flagQuery('deleted') } },
    async (request) => service.versions(request.params.subject, request.query.deleted === true),
  );
  app.get<VersionRoute & Flags>(
    '/subjects/:subject/versions/:version',
    { schema: { params: versionParams, querystring: flagQuery('deleted') } },
    async (request) =>
      service.version(
        request.params.subject,
        request.params.version,
        request.query.deleted === true,
      ),
  );
  app.get<VersionRoute>(
    '/subjects/:subject/versions/:version/schema',
    { schema: { params: versionParams } },
    async (request, reply) =>
      reply
        .type(REGISTRY_CONTENT_TYPE)
        .send(service.version(request.params.subject, request.params.version, false).schema),
  );
  app.post<SubjectRoute & { Body: SchemaBody }>(
    '/subjects/:subject/versions',
    { schema: { params: subjectParams, body: schemaBody } },
    async (request) => service.register(request.params.subject, request.body),
  );
  app.post<SubjectRoute & Flags & { Body: SchemaBody }>(
    '/subjects/:subject',
    { schema: { params: subjectParams, querystring: flagQuery('deleted'), body: schemaBody } },
    async (request) =>
      service.lookup(request.params.subject, request.body, request.query.deleted === true),
  );
  app.delete<SubjectRoute & Flags>(
    '/subjects/:subject',
    { schema: { params: subjectParams, querystring: flagQuery('permanent') } },
    async (request) =>
      service.deleteSubject(request.params.subject, request.query.permanent === true),
  );
  app.delete<VersionRoute & Flags>(
    '/subjects/:subject/versions/:version',
    { schema: { params: versionParams, querystring: flagQuery('permanent') } },
    async (request) =>
      service.deleteVersion(
        request.params.subject,
        request.params.version,
        request.query.permanent === true,
      ),
  );

  app.get('/config', async () => service.globalLevel());
  app.put<{ Body: { compatibility: string } }>(
    '/config',
    { schema: { body: levelBody } },
    async (request) => service.setLevel(null, request.body.compatibility),
  );
  app.get<SubjectRoute & Flags>(
    '/config/:subject',
    { schema: { params: subjectParams, querystring: flagQuery('defaultToGlobal') } },
    async (request) =>
      service.subjectLevel(request.params.subject, request.query.defaultToGlobal === true),
  );
  app.put<SubjectRoute & { Body: { compatibility: string } }>(
    '/config/:subject',
    { schema: { params: subjectParams, body: levelBody } },
    async (request) => service.setLevel(request.params.subject, request.body.compatibility),
  );
  app.delete<SubjectRoute>(
    '/config/:subject',
    { schema: { params: subjectParams } },
    async (request) => service.deleteSubjectLevel(request.params.subject),
  );

  app.post<VersionRoute & { Querystring: { verbose?: boolean }; Body: SchemaBody }>(
    '/compatibility/subjects/:subject/versions/:version',
    { schema: { params: versionParams, querystring: flagQuery('verbose'), body: schemaBody } },
    async (request) =>
      compatibilityAnswer(
        service.compatibility(request.params.subject, request.params.version, request.body),
        request.query.verbose === true,
      ),
  );
  app.post<SubjectRoute & { Querystring: { verbose?: boolean }; Body: SchemaBody }>(
    '/compatibility/subjects/:subject/versions',
    { schema: { params: subjectParams, querystring: flagQuery('verbose'), body: schemaBody } },
    async (request) =>
      compatibilityAnswer(
        service.compatibility(request.params.subject, undefined, request.body),
        request.query.verbose === true,
      ),
  );
}

function compatibilityAnswer(
  result: { is_compatible: boolean; messages: string[] },
  verbose: boolean,
) {
  return verbose ? result : { is_compatible: result.is_compatible };
}
