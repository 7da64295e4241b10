import { Module } from '@nestjs/common';
import { ServiceAuthModule } from '#common/auth-keys.js';
import { ServiceCoreModule, type ServiceApp } from '#common/service-app.js';
import { CatalogConfig } from './catalog.config.js';
import { CreateCatalog1764100000000 } from './migrations/1764100000000-create-catalog.js';
import { CatalogGroup, CatalogScript } from './scripts/catalog.entities.js';
import { ScriptsModule } from './scripts/scripts.module.js';

@Module({})
class CatalogAppModule {}

export const catalogApp: ServiceApp<CatalogConfig> = {
  name: 'catalog',
  configClass: CatalogConfig,
  required: ['AUTH_GRPC_URL'],
  schema: { schema: 'catalog', entities: [CatalogGroup, CatalogScript], migrations: [CreateCatalog1764100000000] },
  module: (deps) => ({
    module: CatalogAppModule,
    imports: [ServiceCoreModule.forRoot(deps), ServiceAuthModule.forRoot(deps.config.AUTH_GRPC_URL!), ScriptsModule],
  }),
};
