import { Module, type DynamicModule, type MiddlewareConsumer, type NestModule } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_INTERCEPTOR } from '@nestjs/core';
import { PassportModule } from '@nestjs/passport';
import type { NextFunction, Request, Response } from 'express';
import { GrpcVerificationKeySource } from '#common/auth-keys.js';
import { VerificationKeySource } from '#common/auth.js';
import { grpcClientsModule } from '#common/grpc.js';
import { HealthController, READINESS_CHECKS, type ReadinessCheck } from '#common/health.js';
import { SERVICE_NAMES } from '#contracts/grpc-packages.js';
import { REQUEST_ID_HEADER, requestIdFrom, runWithRequestId } from '#common/request-context.js';
import { AuthController } from './auth/auth.controller.js';
import { BackupsController } from './backups/backups.controller.js';
import { ProjectArchiveController } from './backups/project-archive.controller.js';
import { ClientAddressInterceptor } from './auth/client-address.interceptor.js';
import { JwtAuthGuard } from './auth/jwt-auth.guard.js';
import { JwtStrategy } from './auth/jwt.strategy.js';
import { CatalogController } from './catalog/catalog.controller.js';
import { CodeSessionsController } from './code-sessions/code-sessions.controller.js';
import { ExecutionsController } from './executions/executions.controller.js';
import type { GatewayConfig } from './gateway.config.js';
import { HttpErrorFilter } from './http-exception.filter.js';
import { LiveRunStream } from './live/live-run-stream.js';
import { LiveSocketServer } from './live/live-socket.server.js';
import { LogsGatewayModule } from './logs/logs.module.js';
import { ProjectsController } from './projects/projects.controller.js';
import { ServiceClients } from './service-clients.js';
import { SessionsGatewayModule } from './sessions/sessions.module.js';
import { AuditController } from './users/audit.controller.js';
import { UsersController } from './users/users.controller.js';

/** Gives every request an id (kept from X-Request-Id when sent), echoed back and carried into gRPC calls and logs. */
function requestId(req: Request, res: Response, next: NextFunction) {
  const id = requestIdFrom(req.header(REQUEST_ID_HEADER));
  res.setHeader(REQUEST_ID_HEADER, id);
  runWithRequestId(id, next);
}

@Module({})
export class GatewayModule implements NestModule {
  static forRoot(config: GatewayConfig): DynamicModule {
    return {
      module: GatewayModule,
      imports: [
        PassportModule,
        grpcClientsModule({
          auth: config.AUTH_GRPC_URL,
          catalog: config.CATALOG_GRPC_URL,
          execution: config.EXECUTION_GRPC_URL,
          logging: config.LOGGING_GRPC_URL,
          backup: config.BACKUP_GRPC_URL,
        }),
        SessionsGatewayModule.forRoot(config),
        LogsGatewayModule.forRoot(config),
      ],
      controllers: [
        HealthController,
        AuthController,
        CatalogController,
        ExecutionsController,
        UsersController,
        AuditController,
        ProjectsController,
        CodeSessionsController,
        BackupsController,
        ProjectArchiveController,
      ],
      providers: [
        ServiceClients,
        // Ready when every backing service's gRPC channel connects.
        {
          provide: READINESS_CHECKS,
          inject: [ServiceClients],
          useFactory: (clients: ServiceClients): ReadinessCheck[] =>
            SERVICE_NAMES.map((name) => ({ name, label: `${name} service`, check: () => clients.waitForReady(name, 1500) })),
        },
        LiveRunStream,
        LiveSocketServer,
        JwtStrategy,
        { provide: VerificationKeySource, useClass: GrpcVerificationKeySource },
        { provide: APP_GUARD, useClass: JwtAuthGuard },
        { provide: APP_FILTER, useClass: HttpErrorFilter },
        { provide: APP_INTERCEPTOR, useClass: ClientAddressInterceptor },
      ],
    };
  }

  configure(consumer: MiddlewareConsumer) {
    consumer.apply(requestId).forRoutes('*');
  }
}
