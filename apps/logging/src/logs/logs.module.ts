import { Module } from '@nestjs/common';
import { LiveTails } from './live-tails.service.js';
import { LogStore } from './log-store.service.js';
import { LogsGrpcController } from './logs.grpc.js';

@Module({
  controllers: [LogsGrpcController],
  providers: [LogStore, LiveTails],
})
export class LogsModule {}
