import { Module } from '@nestjs/common';
import { ServiceAuthModule } from '#common/auth-keys.js';
import { grpcClientsModule } from '#common/grpc.js';
import { ServiceCoreModule, type ServiceApp } from '#common/service-app.js';
import { ExecutionConfig } from './execution.config.js';
import { CreateExecutions1764000000000 } from './migrations/1764000000000-create-executions.js';
import { RunLinks1764200000000 } from './migrations/1764200000000-run-links.js';
import { ProjectsCodeSessions1764300000000 } from './migrations/1764300000000-projects-code-sessions.js';
import { InteractiveSessions1764400000000 } from './migrations/1764400000000-interactive-sessions.js';
import { LogCursor1764500000000 } from './migrations/1764500000000-log-cursor.js';
import { IdempotencyFingerprint1764610000000 } from './migrations/1764610000000-idempotency-fingerprint.js';
import { RunContext1764700000000 } from './migrations/1764700000000-run-context.js';
import { CodeSessionRecord } from './code-sessions/code-session.entity.js';
import { CodeSessionsModule } from './code-sessions/code-sessions.module.js';
import { ActiveProjectRecord, ProjectRecord } from './projects/project.entity.js';
import { ProjectsModule } from './projects/projects.module.js';
import { ExecutionRecord } from './runs/execution.entity.js';
import { RunsModule } from './runs/runs.module.js';
import { SchemaTransferModule } from '#common/schema-transfer/schema-transfer.module.js';
import { resolve } from 'node:path';
import { SessionsModule } from './sessions/sessions.module.js';

@Module({})
class ExecutionAppModule {}

export const executionApp: ServiceApp<ExecutionConfig> = {
  name: 'execution',
  configClass: ExecutionConfig,
  required: ['AUTH_GRPC_URL', 'CATALOG_GRPC_URL'],
  schema: {
    schema: 'execution',
    entities: [ExecutionRecord, ProjectRecord, ActiveProjectRecord, CodeSessionRecord],
    migrations: [CreateExecutions1764000000000, RunLinks1764200000000, ProjectsCodeSessions1764300000000, InteractiveSessions1764400000000, LogCursor1764500000000, IdempotencyFingerprint1764610000000, RunContext1764700000000],
  },
  module: (deps) => ({
    module: ExecutionAppModule,
    imports: [
      ServiceCoreModule.forRoot(deps),
      ServiceAuthModule.forRoot(deps.config.AUTH_GRPC_URL!),
      { ...grpcClientsModule({ catalog: deps.config.CATALOG_GRPC_URL! }), global: true },
      ProjectsModule,
      RunsModule,
      SessionsModule,
      CodeSessionsModule,
      SchemaTransferModule.forService('execution', executionApp.schema, { filesDir: resolve(deps.config.DATA_DIR, 'projects') }),
    ],
  }),
};
