import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { CatalogGroup, CatalogScript } from '../scripts/catalog.entities.js';
import { CatalogStore } from '../scripts/catalog.store.js';
import { DiscoveryService } from './discovery.service.js';

@Module({
  imports: [TypeOrmModule.forFeature([CatalogGroup, CatalogScript])],
  providers: [CatalogStore, DiscoveryService],
  exports: [CatalogStore, DiscoveryService],
})
export class DiscoveryModule {}
