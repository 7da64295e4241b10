import { Module } from '@nestjs/common';
import { LogsModule } from '../logs/logs.module.js';
import { RunsModule } from '../runs/runs.module.js';
import { ExportGrpcController } from './export.grpc.js';
import { ExportService } from './export.service.js';

@Module({
  imports: [LogsModule, RunsModule],
  controllers: [ExportGrpcController],
  providers: [ExportService],
})
export class ExportModule {}
