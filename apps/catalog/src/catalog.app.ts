import { Module } from '@nestjs/common';
import { ServiceAuthModule } from '#common/auth-keys.js';
import { ServiceCoreModule, type ServiceApp } from '#common/service-app.js';
import { CatalogConfig } from './catalog.config.js';
import { PersonalTagRow, ScriptMetadataRow, ScriptMetadataVersionRow } from './metadata/metadata.entities.js';
import { CreateCatalog1764100000000 } from './migrations/1764100000000-create-catalog.js';
import { CatalogEdits1764200000000 } from './migrations/1764200000000-catalog-edits.js';
import { CatalogGroup, CatalogScript } from './scripts/catalog.entities.js';
import { ScriptsModule } from './scripts/scripts.module.js';
import { MetadataService } from './metadata/metadata.service.js';
import { SchemaTransferModule } from '#common/schema-transfer/schema-transfer.module.js';

@Module({})
class CatalogAppModule {}

export const catalogApp: ServiceApp<CatalogConfig> = {
  name: 'catalog',
  configClass: CatalogConfig,
  required: ['AUTH_GRPC_URL'],
  schema: {
    schema: 'catalog',
    entities: [CatalogGroup, CatalogScript, ScriptMetadataRow, ScriptMetadataVersionRow, PersonalTagRow],
    migrations: [CreateCatalog1764100000000, CatalogEdits1764200000000],
  },
  module: (deps) => ({
    module: CatalogAppModule,
    imports: [ServiceCoreModule.forRoot(deps), ServiceAuthModule.forRoot(deps.config.AUTH_GRPC_URL!), ScriptsModule, SchemaTransferModule.forService('catalog', catalogApp.schema, { afterImport: (app) => app.get(MetadataService, { strict: false }).reloadEdits() })],
  }),
};
