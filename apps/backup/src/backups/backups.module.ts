import { Module, type DynamicModule } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { grpcClientsModule } from '#common/grpc.js';
import type { BackupConfig } from '../backup.config.js';
import { BackupDestination } from '../destinations/destination.port.js';
import { DirectoryDestination } from '../destinations/directory.destination.js';
import { S3Destination } from '../destinations/s3.destination.js';
import { BackupLockRepository } from './backup-lock.repository.js';
import { BackupRecord, BackupSettingsRecord } from './backup.entity.js';
import { BackupsGrpcController } from './backups.grpc.js';
import { BackupsService, TRANSFER_CLIENTS } from './backups.service.js';
import { ProjectArchiveService } from './project-archive.service.js';
import { ServiceTransferClients } from './service-transfer.client.js';

/** This service's own gRPC address, as a client dials it. */
const dialable = (listen: string) => listen.replace(/^0\.0\.0\.0:/, '127.0.0.1:').replace(/^\[::\]:/, '[::1]:');

export function destinationOf(config: BackupConfig): BackupDestination {
  if (config.BACKUP_DESTINATION === 's3') {
    return new S3Destination({
      bucket: config.BACKUP_S3_BUCKET!,
      prefix: config.BACKUP_S3_PREFIX,
      region: config.BACKUP_S3_REGION,
      endpoint: config.BACKUP_S3_ENDPOINT_URL,
      accessKeyId: config.BACKUP_S3_ACCESS_KEY_ID,
      secretAccessKey: config.BACKUP_S3_SECRET_ACCESS_KEY,
      forcePathStyle: config.BACKUP_S3_FORCE_PATH_STYLE === 'true',
      partSizeBytes: config.BACKUP_S3_PART_SIZE_MB * 1024 * 1024,
    });
  }
  return new DirectoryDestination(config.BACKUP_DIR);
}

@Module({})
export class BackupsModule {
  static forConfig(config: BackupConfig): DynamicModule {
    return {
      module: BackupsModule,
      imports: [TypeOrmModule.forFeature([BackupRecord, BackupSettingsRecord]), grpcClientsModule({ execution: config.EXECUTION_GRPC_URL! })],
      controllers: [BackupsGrpcController],
      providers: [
        BackupsService,
        ProjectArchiveService,
        BackupLockRepository,
        { provide: BackupDestination, useValue: destinationOf(config) },
        {
          provide: TRANSFER_CLIENTS,
          useFactory: () =>
            new ServiceTransferClients(
              {
                auth: config.AUTH_GRPC_URL!,
                catalog: config.CATALOG_GRPC_URL!,
                execution: config.EXECUTION_GRPC_URL!,
                logging: config.LOGGING_GRPC_URL!,
                backup: dialable(config.GRPC_LISTEN),
              },
              config.SCHEMA_TRANSFER_TOKEN ?? '',
            ),
        },
      ],
    };
  }
}
