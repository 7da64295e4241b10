import { Module } from '@nestjs/common';
import { ServiceAuthModule } from '#common/auth-keys.js';
import { ServiceCoreModule, type ServiceApp } from '#common/service-app.js';
import { LoggingConfig } from './logging.config.js';
import { LogChunkRecord } from './logs/log-chunk.entity.js';
import { LogStream } from './logs/log-stream.entity.js';
import { ExportModule } from './export/export.module.js';
import { LogsModule } from './logs/logs.module.js';
import { RetentionModule } from './retention/retention.module.js';
import { StatisticsModule } from './statistics/statistics.module.js';
import { LogRun } from './runs/log-run.entity.js';
import { RunsModule } from './runs/runs.module.js';
import { SearchModule } from './search/search.module.js';
import { CreateLogs1764000000000 } from './migrations/1764000000000-create-logs.js';
import { LogChunksAsText1764400000000 } from './migrations/1764400000000-log-chunks-as-text.js';
import { ContiguousLogRows1765000000000 } from './migrations/1765000000000-contiguous-log-rows.js';
import { RunContextSearchRetention1766000000000 } from './migrations/1766000000000-run-context-search-retention.js';
import { SchemaTransferModule } from '#common/schema-transfer/schema-transfer.module.js';

@Module({})
class LoggingAppModule {}

export const loggingApp: ServiceApp<LoggingConfig> = {
  name: 'logging',
  configClass: LoggingConfig,
  required: ['AUTH_GRPC_URL'],
  schema: { schema: 'logging', entities: [LogStream, LogChunkRecord, LogRun],
    migrations: [CreateLogs1764000000000, LogChunksAsText1764400000000, ContiguousLogRows1765000000000, RunContextSearchRetention1766000000000],
  },
  module: (deps) => ({
    module: LoggingAppModule,
    imports: [
      ServiceCoreModule.forRoot(deps),
      ServiceAuthModule.forRoot(deps.config.AUTH_GRPC_URL!),
      LogsModule,
      RunsModule,
      SearchModule,
      ExportModule,
      StatisticsModule,
      RetentionModule,
      SchemaTransferModule.forService('logging', loggingApp.schema),
    ],
  }),
};
