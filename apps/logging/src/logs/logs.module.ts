import { Module } from '@nestjs/common';
import { LiveTails } from './live-tails.service.js';
import { LogChunksRepository } from './log-chunks.repository.js';
import { LogStore } from './log-store.service.js';
import { LogStreamsRepository } from './log-streams.repository.js';
import { LogsGrpcController } from './logs.grpc.js';

@Module({
  controllers: [LogsGrpcController],
  providers: [LogStore, LiveTails, LogStreamsRepository, LogChunksRepository],
})
export class LogsModule {}
