import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { BackupRecord } from './backup.entity.js';
import { BackupsGrpcController } from './backups.grpc.js';
import { BackupsService } from './backups.service.js';

@Module({
  imports: [TypeOrmModule.forFeature([BackupRecord])],
  controllers: [BackupsGrpcController],
  providers: [BackupsService],
})
export class BackupsModule {}
