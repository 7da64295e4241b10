import { Module } from '@nestjs/common';
import { StatisticsGrpcController } from './statistics.grpc.js';
import { StatisticsRepository } from './statistics.repository.js';

@Module({
  controllers: [StatisticsGrpcController],
  providers: [StatisticsRepository],
})
export class StatisticsModule {}
