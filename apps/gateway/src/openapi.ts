import type { INestApplication } from '@nestjs/common';
import { ModulesContainer, NestFactory } from '@nestjs/core';
import { DocumentBuilder, SwaggerModule, getSchemaPath, type OpenAPIObject } from '@nestjs/swagger';
import { PUBLIC_ROUTE } from '#common/auth.js';
import { ErrorBody } from './error-body.js';
import { GatewayConfig } from './gateway.config.js';
import { GatewayModule } from './gateway.module.js';

const ERROR_DESCRIPTIONS: Record<string, string> = {
  '400': 'Invalid request (body, query or path)',
  '401': 'Missing or invalid access token',
  '403': 'The caller\'s level does not allow it',
  '404': 'Not found, or above the caller\'s level',
  '503': 'A backing service or its database is unavailable; retry after Retry-After seconds',
};

/**
 * The gateway's OpenAPI document. DTO and parameter schemas come from the @nestjs/swagger compiler
 * plugin (scripts/build-ts.mjs); here only what every route shares is added: bearer security
 * (except @Public() routes) and the error answers each route can give, all with ErrorBody.
 */
export function createOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder().setTitle('Scriptorium').setVersion('v1').addBearerAuth().build();
  const document = SwaggerModule.createDocument(app, config, { extraModels: [ErrorBody] });
  const publicOperations = publicOperationIds(app);
  for (const path of Object.values(document.paths)) {
    for (const [method, operation] of Object.entries(path)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method) || !operation?.responses) continue;
      const isPublic = publicOperations.has(operation.operationId);
      operation.security = isPublic ? [] : [{ bearer: [] }];
      const codes = ['400', '503'];
      if (!isPublic) codes.push('401', '403');
      if (operation.parameters?.some((p: { in?: string }) => p.in === 'path')) codes.push('404');
      for (const code of codes) {
        operation.responses[code] ??= { description: ERROR_DESCRIPTIONS[code], content: { 'application/json': { schema: { $ref: getSchemaPath(ErrorBody) } } } };
      }
    }
  }
  return document;
}

/** operationIds (Controller_method, swagger's default) of the handlers marked @Public(). */
function publicOperationIds(app: INestApplication): Set<string> {
  const ids = new Set<string>();
  for (const module of app.get(ModulesContainer).values()) {
    for (const { metatype } of module.controllers.values()) {
      if (typeof metatype !== 'function') continue;
      const classPublic = Reflect.getMetadata(PUBLIC_ROUTE, metatype) === true;
      for (const key of Object.getOwnPropertyNames(metatype.prototype)) {
        const handler = metatype.prototype[key];
        if (key !== 'constructor' && typeof handler === 'function' && (classPublic || Reflect.getMetadata(PUBLIC_ROUTE, handler) === true)) ids.add(`${metatype.name}_${key}`);
      }
    }
  }
  return ids;
}

/** The gateway's modules and routes, created (not initialised, not listening) to be documented offline. */
export function createOfflineGateway(): Promise<INestApplication> {
  const unused = 'localhost:1'; // gRPC clients are created, never called
  const config = Object.assign(new GatewayConfig(), {
    AUTH_GRPC_URL: unused, CATALOG_GRPC_URL: unused, EXECUTION_GRPC_URL: unused, LOGGING_GRPC_URL: unused, BACKUP_GRPC_URL: unused,
  });
  return NestFactory.create(GatewayModule.forRoot(config), { logger: false, abortOnError: false });
}

