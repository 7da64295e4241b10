import { Module } from '@nestjs/common';
import { LogAccess } from './log-access.service.js';
import { LiveTails } from './live-tails.service.js';
import { LogChunksRepository } from './log-chunks.repository.js';
import { LogStore } from './log-store.service.js';
import { LogStreamsRepository } from './log-streams.repository.js';
import { LogsGrpcController } from './logs.grpc.js';

@Module({
  controllers: [LogsGrpcController],
  providers: [LogStore, LiveTails, LogAccess, LogStreamsRepository, LogChunksRepository],
  exports: [LogStore, LogAccess, LogStreamsRepository, LogChunksRepository],
})
export class LogsModule {}
