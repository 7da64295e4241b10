import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { INestApplication } from '@nestjs/common';
import { ROUTE_ARGS_METADATA } from '@nestjs/common/constants.js';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum.js';
import { ModulesContainer } from '@nestjs/core';
import type { OpenAPIObject } from '@nestjs/swagger';
import type { components, paths } from '../web-client/api.js';
import { createOfflineGateway, createOpenApiDocument } from './openapi.js';

type Schema = { $ref?: string; type?: string; properties?: Record<string, Schema>; items?: Schema; allOf?: Schema[]; required?: string[]; enum?: unknown[]; format?: string };
type Operation = { operationId: string; parameters?: { in: string; name: string; required?: boolean; schema?: Schema }[]; requestBody?: { content: Record<string, { schema: Schema }> }; responses: Record<string, { content?: Record<string, { schema: Schema }> }> };

// Compile-time: the generated client types (npm run build:web-client) hold these fields; a rename fails the build.
type RunScriptBody = paths['/api/v1/executions']['post']['requestBody'] extends { content: { 'application/json': infer B } } ? B : never;
const runBody: RunScriptBody = { scriptId: 'examples/greet.py', parameters: { name: 'Ada' }, projectId: 'p1', language: 'en' };
const runState: components['schemas']['ExecutionDto']['state'] = 'queued';
void [runBody, runState];

describe('the gateway OpenAPI document', () => {
  let app: INestApplication;
  let document: OpenAPIObject;
  const operations = new Map<string, Operation & { method: string; path: string }>();

  before(async () => {
    app = await createOfflineGateway();
    document = createOpenApiDocument(app);
    for (const [path, item] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(item)) if (operation?.operationId) operations.set(operation.operationId, { ...(operation as Operation), method, path });
    }
  });
  after(() => app.close());

  const resolve = (schema: Schema): Schema => {
    const ref = schema.$ref ?? (schema.allOf?.length === 1 ? schema.allOf[0].$ref : undefined);
    return ref ? resolve((document.components!.schemas as Record<string, Schema>)[ref.split('/').at(-1)!]) : schema;
  };
  const isDescribed = (schema: Schema | undefined): boolean => {
    if (!schema) return false;
    const s = resolve(schema);
    return s.type === 'array' ? isDescribed(s.items) : s.type !== 'object' || Object.keys(s.properties ?? {}).length > 0;
  };

  /** Every handler with its @Body() and @Query() arguments, read from Nest's own route metadata. */
  function handlers() {
    const found: { id: string; body: boolean; query: string[] }[] = [];
    for (const module of app.get(ModulesContainer).values()) {
      for (const { metatype } of module.controllers.values()) {
        if (typeof metatype !== 'function') continue;
        for (const key of Object.getOwnPropertyNames(metatype.prototype)) {
          const args = Reflect.getMetadata(ROUTE_ARGS_METADATA, metatype, key) as Record<string, { index: number; data?: string }> | undefined;
          if (!args) continue;
          const types = Reflect.getMetadata('design:paramtypes', metatype.prototype, key) as (new () => object)[];
          const query: string[] = [];
          let body = false;
          for (const [argKey, arg] of Object.entries(args)) {
            const kind = Number(argKey.split(':')[0]);
            if (kind === RouteParamtypes.BODY && !arg.data) body = true;
            if (kind === RouteParamtypes.QUERY) query.push(...(arg.data ? [arg.data] : queryFieldsOf(types[arg.index])));
          }
          found.push({ id: `${metatype.name}_${key}`, body, query });
        }
      }
    }
    return found;
  }
  // A query DTO's fields, as the swagger plugin recorded them from the class.
  const queryFieldsOf = (dto: new () => object) => Object.keys((dto as unknown as { _OPENAPI_METADATA_FACTORY?: () => object })._OPENAPI_METADATA_FACTORY?.() ?? { '(no plugin metadata)': 1 });

  test('every $ref names a schema the document has (a client generator would stop at a dangling one)', () => {
    const schemas = document.components!.schemas as Record<string, unknown>;
    const dangling: string[] = [];
    const walk = (node: unknown, at: string): void => {
      if (Array.isArray(node)) return node.forEach((item, i) => walk(item, `${at}/${i}`));
      if (!node || typeof node !== 'object') return;
      for (const [key, value] of Object.entries(node)) {
        if (key === '$ref' && typeof value === 'string' && !(value.split('/').at(-1)! in schemas)) dangling.push(`${at}: ${value}`);
        walk(value, `${at}/${key}`);
      }
    };
    walk(document, '#');
    assert.deepEqual(dangling, []);
  });

  test('every @Body() route has a request body with its properties', () => {
    const empty = handlers().filter((h) => h.body).filter((h) => {
      const content = operations.get(h.id)?.requestBody?.content['application/json'];
      return !isDescribed(content?.schema);
    });
    assert.deepEqual(empty.map((h) => h.id), []);
  });

  test('every @Query() of a route is listed as a query parameter', () => {
    const missing = handlers().flatMap((h) => {
      const listed = new Set(operations.get(h.id)?.parameters?.filter((p) => p.in === 'query').map((p) => p.name));
      return h.query.filter((name) => !listed.has(name)).map((name) => `${h.id}?${name}`);
    });
    assert.deepEqual(missing, []);
  });

  test('every 2xx answer with a body has a described schema', () => {
    const undescribed = [...operations.values()].filter((op) => {
      if (op.path === '/healthz' || op.path === '/readyz') return false;
      return Object.entries(op.responses).some(([code, r]) => code.startsWith('2') && code !== '204' && !Object.values(r.content ?? {}).every((c) => isDescribed(c.schema)) || (code.startsWith('2') && code !== '204' && !r.content));
    });
    assert.deepEqual(undescribed.map((op) => `${op.method.toUpperCase()} ${op.path}`), []);
  });

  test('POST /api/v1/executions: its body, its 202 run and its errors', () => {
    const op = [...operations.values()].find((o) => o.method === 'post' && o.path === '/api/v1/executions')!;
    const body = resolve(op.requestBody!.content['application/json'].schema);
    assert.deepEqual(Object.keys(body.properties!).sort(), ['language', 'parameters', 'projectId', 'scriptId']);
    assert.deepEqual(body.required, ['scriptId']);
    const run = resolve(op.responses['202'].content!['application/json'].schema);
    assert.equal(run.properties!.id.format, 'uuid');
    assert.equal(run.properties!.createdAt.format, 'date-time');
    assert.deepEqual(resolve(run.properties!.state).enum, ['queued', 'starting', 'running', 'succeeded', 'failed', 'timed_out', 'cancelled', 'lost']);
    for (const code of ['400', '401', '403', '422', '503']) assert.ok(op.responses[code], `answers ${code}`);
    assert.ok(op.parameters?.some((p) => p.in === 'header' && p.name === 'Idempotency-Key'));
    assert.equal(op.responses['422'].content!['application/json'].schema.$ref, '#/components/schemas/ErrorBody');
  });

  test('GET /api/v1/executions lists its filters, GET /api/v1/auth/login is public', () => {
    const list = [...operations.values()].find((o) => o.method === 'get' && o.path === '/api/v1/executions')!;
    const query = Object.fromEntries(list.parameters!.filter((p) => p.in === 'query').map((p) => [p.name, p]));
    assert.deepEqual(Object.keys(query).sort(), ['allUsers', 'pageSize', 'pageToken', 'scriptId', 'state']);
    assert.ok(Object.values(query).every((p) => p.required === false));
    assert.equal(query.pageSize.schema!.type, 'integer', '@IsInt() is an integer');
    assert.equal(query.allUsers.schema!.type, 'boolean');
    assert.deepEqual(resolve(query.state.schema!).enum?.length, 8);
    const login = [...operations.values()].find((o) => o.path === '/api/v1/auth/login')!;
    assert.deepEqual((login as { security?: unknown[] }).security, []);
    assert.match((login.responses['401'] as { description?: string }).description!, /Wrong username or password/, 'its own 401, not the bearer one');
    assert.ok((login.responses['429'] as { headers?: Record<string, unknown> }).headers?.['Retry-After']);
  });
});
