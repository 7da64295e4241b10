import type { INestApplication } from '@nestjs/common';
import { ModulesContainer, NestFactory } from '@nestjs/core';
import { ApiProperty, DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { getMetadataStorage } from 'class-validator';
import { PUBLIC_ROUTE } from '#common/auth.js';
import { ErrorBody, errorResponse } from './error-body.js';
import { GatewayConfig } from './gateway.config.js';
import { GatewayModule } from './gateway.module.js';

const ERROR_DESCRIPTIONS: Record<string, string> = {
  '400': 'Invalid request (body, query or path); the message says what to change',
  '401': 'Missing or invalid access token',
  '403': 'The caller\'s level does not allow it',
  '404': 'Not found, or above the caller\'s level',
  '503': 'A backing service or its database is unavailable; retry after Retry-After seconds',
};

/**
 * The gateway's OpenAPI document. DTO and parameter schemas come from the @nestjs/swagger compiler
 * plugin (scripts/build-ts.mjs), response schemas from each handler's declared return type, and
 * route-specific errors from @ApiErrors(); here only what every route shares is added: bearer
 * security (except @Public() routes) and the error answers any route can give, all with ErrorBody.
 */
export function createOpenApiDocument(app: INestApplication): OpenAPIObject {
  const handlers = controllerHandlers(app);
  documentIntegers(handlers);
  const config = new DocumentBuilder().setTitle('Scriptorium').setVersion('v1').addBearerAuth().build();
  const document = SwaggerModule.createDocument(app, config, { extraModels: [ErrorBody] });
  const publicOperations = new Set(handlers.filter((h) => h.isPublic).map((h) => h.operationId));
  for (const path of Object.values(document.paths)) {
    for (const [method, operation] of Object.entries(path)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method) || !operation?.responses) continue;
      const isPublic = publicOperations.has(operation.operationId);
      operation.security = isPublic ? [] : [{ bearer: [] }];
      const codes = ['503'];
      // Only input can be invalid: a route without parameters or body never answers 400.
      if (operation.parameters?.some((p: { in?: string }) => p.in !== 'header') || operation.requestBody) codes.push('400');
      if (!isPublic) codes.push('401', '403');
      if (operation.parameters?.some((p: { in?: string }) => p.in === 'path')) codes.push('404');
      for (const code of codes) operation.responses[code] ??= errorResponse(Number(code), ERROR_DESCRIPTIONS[code]);
    }
  }
  return document;
}

interface Handler {
  /** Controller_method, swagger's default operationId. */
  operationId: string;
  isPublic: boolean;
  /** The classes of its arguments (DTOs among them). */
  argumentTypes: unknown[];
}

function controllerHandlers(app: INestApplication): Handler[] {
  const handlers: Handler[] = [];
  for (const module of app.get(ModulesContainer).values()) {
    for (const { metatype } of module.controllers.values()) {
      if (typeof metatype !== 'function') continue;
      const classPublic = Reflect.getMetadata(PUBLIC_ROUTE, metatype) === true;
      for (const key of Object.getOwnPropertyNames(metatype.prototype)) {
        const handler = metatype.prototype[key];
        if (key === 'constructor' || typeof handler !== 'function') continue;
        handlers.push({
          operationId: `${metatype.name}_${key}`,
          isPublic: classPublic || Reflect.getMetadata(PUBLIC_ROUTE, handler) === true,
          argumentTypes: (Reflect.getMetadata('design:paramtypes', metatype.prototype, key) as unknown[] | undefined) ?? [],
        });
      }
    }
  }
  return handlers;
}

/** The swagger plugin reads a number field as `number`; one validated with @IsInt() is an `integer`. */
function documentIntegers(handlers: Handler[]) {
  const storage = getMetadataStorage();
  for (const type of new Set(handlers.flatMap((h) => h.argumentTypes))) {
    if (typeof type !== 'function') continue;
    for (const rule of storage.getTargetValidationMetadatas(type, '', false, false)) {
      if (rule.name === 'isInt') ApiProperty({ type: 'integer' })(type.prototype as object, rule.propertyName);
    }
  }
}

/** The gateway's modules and routes, created (not initialised, not listening) to be documented offline. */
export function createOfflineGateway(): Promise<INestApplication> {
  const unused = 'localhost:1'; // gRPC clients are created, never called
  const config = Object.assign(new GatewayConfig(), {
    AUTH_GRPC_URL: unused, CATALOG_GRPC_URL: unused, EXECUTION_GRPC_URL: unused, LOGGING_GRPC_URL: unused, BACKUP_GRPC_URL: unused,
  });
  return NestFactory.create(GatewayModule.forRoot(config), { logger: false, abortOnError: false });
}

