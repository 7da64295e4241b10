import { Module } from '@nestjs/common';
import { RetentionGrpcController } from './retention.grpc.js';
import { RetentionRepository } from './retention.repository.js';
import { RetentionService } from './retention.service.js';

@Module({
  controllers: [RetentionGrpcController],
  providers: [RetentionRepository, RetentionService],
})
export class RetentionModule {}
