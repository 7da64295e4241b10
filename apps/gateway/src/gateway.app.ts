import 'reflect-metadata';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { ValidationPipe, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { SwaggerModule } from '@nestjs/swagger';
import { JsonLogger, rootLogger } from '#common/logger.js';
import { PROJECT_ROOT } from '#common/paths.js';
import { trustProxySetting, type GatewayConfig } from './gateway.config.js';
import { GatewayModule } from './gateway.module.js';
import { createOpenApiDocument } from './openapi.js';
import { LiveSocketServer } from './live/live-socket.server.js';
import { SessionProxy } from './sessions/session-proxy.js';
import { serveWebUi } from './web-ui.js';

const FILE_UPLOAD = /^\/api\/v1\/projects\/[^/]+\/files\//;
const isJson = (contentType: string | undefined) => /^application\/([\w.-]+\+)?json\b/i.test(contentType ?? '');

/** Builds and starts the HTTP edge: REST, OpenAPI at /api/docs, live streams, and the web UI. */
export async function startGateway(config: GatewayConfig): Promise<INestApplication> {
  const app = await NestFactory.create<NestExpressApplication>(GatewayModule.forRoot(config), {
    logger: new JsonLogger('gateway'),
    bodyParser: false,
  });
  // Session hosts (<id>.<SESSIONS_DOMAIN>) get only the session proxy: installed before every other handler.
  const sessions = app.get(SessionProxy);
  app.use(sessions.middleware);
  // File uploads are read raw, byte for byte, whatever their content type.
  app.useBodyParser('json', { limit: '1mb', type: (req) => isJson(req.headers['content-type']) && !FILE_UPLOAD.test(req.url ?? '') });
  app.set('trust proxy', trustProxySetting(config.TRUSTED_PROXIES));
  app.disable('x-powered-by');
  app.useGlobalPipes(new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true }));
  if (!serveWebUi(app, join(PROJECT_ROOT, 'dist/web'))) rootLogger().warn({ service: 'gateway' }, 'no web UI in dist/web: run npm run build');
  SwaggerModule.setup('api/docs', app, createOpenApiDocument(app));
  app.get(LiveSocketServer).attach(sessions.attach(app.getHttpServer() as Server));
  await app.listen(config.HTTP_PORT, config.HTTP_HOST);
  rootLogger().info({ service: 'gateway', port: config.HTTP_PORT }, 'gateway started');
  return app;
}
