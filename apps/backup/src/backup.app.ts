import { Module } from '@nestjs/common';
import { ServiceAuthModule } from '#common/auth-keys.js';
import { ServiceCoreModule, type ServiceApp } from '#common/service-app.js';
import { SchemaTransferModule } from '#common/schema-transfer/schema-transfer.module.js';
import { BackupConfig } from './backup.config.js';
import { BackupRecord, BackupSettingsRecord } from './backups/backup.entity.js';
import { BackupsModule } from './backups/backups.module.js';
import { CreateBackups1764000000000 } from './migrations/1764000000000-create-backups.js';
import { BackupArchives1766000000000 } from './migrations/1766000000000-backup-archives.js';

@Module({})
class BackupAppModule {}

export const backupApp: ServiceApp<BackupConfig> = {
  name: 'backup',
  configClass: BackupConfig,
  // It exports every service's schema through its SchemaTransferService: it needs all of them.
  required: ['AUTH_GRPC_URL', 'CATALOG_GRPC_URL', 'EXECUTION_GRPC_URL', 'LOGGING_GRPC_URL'],
  schema: { schema: 'backup', entities: [BackupRecord, BackupSettingsRecord], migrations: [CreateBackups1764000000000, BackupArchives1766000000000] },
  module: (deps) => ({
    module: BackupAppModule,
    imports: [
      ServiceCoreModule.forRoot(deps),
      ServiceAuthModule.forRoot(deps.config.AUTH_GRPC_URL!),
      BackupsModule.forConfig(deps.config),
      SchemaTransferModule.forService('backup', backupApp.schema),
    ],
  }),
};
