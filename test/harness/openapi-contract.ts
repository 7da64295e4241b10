import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { Api } from './api.js';

const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv) => void;

type Json = Record<string, unknown>;
interface MediaType {
  schema?: Json;
}
interface DeclaredResponse {
  content?: Record<string, MediaType>;
  headers?: Record<string, unknown>;
}
interface Operation {
  operationId: string;
  responses: Record<string, DeclaredResponse>;
}
interface Route {
  method: string;
  template: string;
  pattern: RegExp;
  /** Fewer path parameters first, so /executions/live wins over /executions/{id}. */
  parameters: number;
  operation: Operation;
}

const DOCUMENT_ID = 'openapi.json';

/**
 * An OpenAPI 3.0 schema as the JSON Schema ajv checks: `nullable` becomes a null alternative,
 * references point into the registered document, and an object with listed properties may hold
 * no others, so a field the document does not name fails as surely as a missing or mistyped one.
 */
export function toJsonSchema(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(toJsonSchema);
  if (!node || typeof node !== 'object') return node;
  const schema: Json = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === 'properties' && value && typeof value === 'object') {
      schema.properties = Object.fromEntries(Object.entries(value).map(([name, property]) => [name, toJsonSchema(property)]));
    } else if (key === '$ref' && typeof value === 'string' && value.startsWith('#/')) {
      schema.$ref = `${DOCUMENT_ID}${value}`;
    } else if (key !== 'nullable' && key !== 'example') {
      schema[key] = toJsonSchema(value);
    }
  }
  if (schema.type === 'object' && schema.properties && schema.additionalProperties === undefined) schema.additionalProperties = false;
  if ((node as Json).nullable !== true) return schema;
  if (typeof schema.type === 'string' && !schema.allOf && !schema.$ref) {
    return { ...schema, type: [schema.type, 'null'], ...(Array.isArray(schema.enum) ? { enum: [...schema.enum, null] } : {}) };
  }
  return { anyOf: [schema, { type: 'null' }] };
}

/** What one real answer was checked against. */
export interface CheckedAnswer {
  operationId: string;
  status: number;
}

/**
 * Checks real answers against the gateway's own OpenAPI document: the status must be one the
 * route declares, the media type one declared for that status, a JSON body must match the
 * declared schema, and a declared Retry-After must be sent.
 */
export class OpenApiContract {
  private readonly routes: Route[] = [];
  private readonly ajv = new Ajv({ allErrors: true, strict: false });
  private readonly validators = new Map<Json, ValidateFunction>();
  readonly checked: CheckedAnswer[] = [];

  constructor(readonly document: { paths: Record<string, Record<string, Operation>>; components?: { schemas?: Json } }) {
    addFormats(this.ajv);
    this.ajv.addSchema({ $id: DOCUMENT_ID, components: toJsonSchema(document.components ?? {}) });
    for (const [template, item] of Object.entries(document.paths)) {
      const names = [...template.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      // An Express `*path` wildcard spans segments; every other parameter is one segment.
      const source = template.replace(/[.]/g, '\\.').replace(/\{(\w+)\}/g, (_, name: string) => (name === 'path' ? '(.+)' : '([^/]+)'));
      for (const [method, operation] of Object.entries(item)) {
        this.routes.push({ method: method.toUpperCase(), template, pattern: new RegExp(`^${source}$`), parameters: names.length, operation });
      }
    }
    this.routes.sort((a, b) => a.parameters - b.parameters);
  }

  /** Every JSON-answering operation of the document (live streams and health probes aside). */
  operationIds(): string[] {
    return this.routes.filter((r) => r.template.startsWith('/api/') && !this.isStream(r.operation)).map((r) => r.operation.operationId);
  }

  private isStream(operation: Operation) {
    return Object.values(operation.responses).some((r) => r.content?.['text/event-stream']);
  }

  /** Sends the request as `api`'s user and checks the answer; returns it for the test's own assertions. */
  async call<T = any>(api: Api, method: string, path: string, body?: unknown, headers?: Record<string, string>) {
    const answer = await api.request<T>(method, path, body, headers);
    this.check(method, path, answer);
    return answer;
  }

  check(method: string, path: string, answer: { status: number; body: unknown; headers: Headers }) {
    const what = `${method} ${path} → ${answer.status} ${JSON.stringify(answer.body)?.slice(0, 600)}`;
    const pathname = new URL(path, 'http://x').pathname;
    const route = this.routes.find((r) => r.method === method && r.pattern.test(pathname));
    if (!route) throw new Error(`${method} ${pathname} is not in the OpenAPI document`);
    const declared = route.operation.responses[String(answer.status)];
    if (!declared) throw new Error(`${what}: ${route.operation.operationId} does not declare ${answer.status} (it declares ${Object.keys(route.operation.responses).join(', ')})`);
    const mediaType = (answer.headers.get('content-type') ?? '').split(';')[0].trim();
    if (mediaType) {
      const content = declared.content?.[mediaType];
      if (!content) throw new Error(`${what}: answered ${mediaType}, the document declares ${Object.keys(declared.content ?? {}).join(', ') || 'no body'}`);
      if (mediaType === 'application/json') this.validate(content.schema ?? {}, answer.body, what);
    }
    if (declared.headers?.['Retry-After'] && !answer.headers.get('retry-after')) throw new Error(`${what}: no Retry-After header`);
    this.checked.push({ operationId: route.operation.operationId, status: answer.status });
  }

  private validate(schema: Json, body: unknown, what: string) {
    let validator = this.validators.get(schema);
    if (!validator) {
      validator = this.ajv.compile(toJsonSchema(schema) as Json);
      this.validators.set(schema, validator);
    }
    if (!validator(body)) {
      const problems = validator.errors!.map((e) => `${e.instancePath || '(body)'} ${e.message}${e.params && 'additionalProperty' in e.params ? ` "${e.params.additionalProperty}"` : ''}`);
      throw new Error(`${what}\ndoes not match its declared schema:\n  ${[...new Set(problems)].join('\n  ')}`);
    }
  }
}
