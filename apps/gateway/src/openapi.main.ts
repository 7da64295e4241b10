// Writes the gateway's OpenAPI document to dist/openapi.json (npm run build), for the web client's
// generated types: the app is created (modules and routes scanned) but neither initialised nor listening.
import 'reflect-metadata';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { NestFactory } from '@nestjs/core';
import { PROJECT_ROOT } from '#common/paths.js';
import { GatewayConfig } from './gateway.config.js';
import { GatewayModule } from './gateway.module.js';
import { createOpenApiDocument } from './openapi.js';

const unused = 'localhost:1'; // gRPC clients are created, never called
const config = Object.assign(new GatewayConfig(), {
  AUTH_GRPC_URL: unused, CATALOG_GRPC_URL: unused, EXECUTION_GRPC_URL: unused, LOGGING_GRPC_URL: unused, BACKUP_GRPC_URL: unused,
});
const app = await NestFactory.create(GatewayModule.forRoot(config), { logger: false, abortOnError: false });
const out = process.argv[2] ?? join(PROJECT_ROOT, 'dist/openapi.json');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify(createOpenApiDocument(app), null, 2)}\n`);
await app.close();
