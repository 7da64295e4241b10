import { Module } from '@nestjs/common';
import { ServiceAuthModule } from '#common/auth-keys.js';
import { ServiceCoreModule, type ServiceApp } from '#common/service-app.js';
import { BackupConfig } from './backup.config.js';
import { BackupRecord } from './backups/backup.entity.js';
import { BackupsModule } from './backups/backups.module.js';
import { CreateBackups1764000000000 } from './migrations/1764000000000-create-backups.js';

@Module({})
class BackupAppModule {}

export const backupApp: ServiceApp<BackupConfig> = {
  name: 'backup',
  configClass: BackupConfig,
  required: ['AUTH_GRPC_URL'],
  schema: { schema: 'backup', entities: [BackupRecord], migrations: [CreateBackups1764000000000] },
  module: (deps) => ({
    module: BackupAppModule,
    imports: [ServiceCoreModule.forRoot(deps), ServiceAuthModule.forRoot(deps.config.AUTH_GRPC_URL!), BackupsModule],
  }),
};
