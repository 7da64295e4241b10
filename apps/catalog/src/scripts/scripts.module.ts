import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DiscoveryModule } from '../discovery/discovery.module.js';
import { MetadataService } from '../metadata/metadata.service.js';
import { MetadataStore } from '../metadata/metadata.store.js';
import { CatalogGroup, CatalogScript } from './catalog.entities.js';
import { CatalogGrpcController } from './catalog.grpc.js';

@Module({
  imports: [TypeOrmModule.forFeature([CatalogGroup, CatalogScript]), DiscoveryModule],
  controllers: [CatalogGrpcController],
  providers: [MetadataStore, MetadataService],
})
export class ScriptsModule {}
