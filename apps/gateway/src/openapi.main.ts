// Writes the gateway's OpenAPI document to dist/openapi.json (npm run build), for the web client's
// generated types (npm run build:web-client).
import 'reflect-metadata';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { PROJECT_ROOT } from '#common/paths.js';
import { createOfflineGateway, createOpenApiDocument } from './openapi.js';

const app = await createOfflineGateway();
const out = process.argv[2] ?? join(PROJECT_ROOT, 'dist/openapi.json');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify(createOpenApiDocument(app), null, 2)}\n`);
await app.close();
