import { Module } from '@nestjs/common';
import { CatalogClient } from './catalog.client.js';

/** The execution service's one client of the catalog, for runs and projects alike. */
@Module({
  providers: [CatalogClient],
  exports: [CatalogClient],
})
export class CatalogModule {}
