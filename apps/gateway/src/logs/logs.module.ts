import { Module, type DynamicModule } from '@nestjs/common';
import { grpcClientsModule } from '#common/grpc.js';
import { LogsController } from './logs.controller.js';

/** /api/v1/logs: search, stream classes, export, statistics and retention, over the logging service's gRPC API. */
@Module({})
export class LogsGatewayModule {
  static forRoot(config: { LOGGING_GRPC_URL: string }): DynamicModule {
    return { module: LogsGatewayModule, imports: [grpcClientsModule({ logging: config.LOGGING_GRPC_URL })], controllers: [LogsController] };
  }
}
