import { Module } from '@nestjs/common';
import { LogsModule } from '../logs/logs.module.js';
import { LogRunsRepository } from './log-runs.repository.js';
import { RunContextRecorder } from './run-context.service.js';
import { RunsGrpcController } from './runs.grpc.js';

@Module({
  imports: [LogsModule],
  controllers: [RunsGrpcController],
  providers: [LogRunsRepository, RunContextRecorder],
  exports: [LogRunsRepository],
})
export class RunsModule {}
