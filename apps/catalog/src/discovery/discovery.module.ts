import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { CatalogIndex } from '../scripts/catalog-index.js';
import { CatalogGroup, CatalogScript } from '../scripts/catalog.entities.js';
import { CatalogStore } from '../scripts/catalog.store.js';
import { DiscoveryService } from './discovery.service.js';

@Module({
  imports: [TypeOrmModule.forFeature([CatalogGroup, CatalogScript])],
  providers: [CatalogStore, CatalogIndex, DiscoveryService],
  exports: [CatalogStore, CatalogIndex, DiscoveryService],
})
export class DiscoveryModule {}
