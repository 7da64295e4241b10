import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DiscoveryModule } from '../discovery/discovery.module.js';
import { MetadataService } from '../metadata/metadata.service.js';
import { PersonalTagsRepository } from '../metadata/personal-tags.repository.js';
import { ScriptMetadataRepository } from '../metadata/script-metadata.repository.js';
import { CatalogGroup, CatalogScript } from './catalog.entities.js';
import { CatalogGrpcController } from './catalog.grpc.js';

@Module({
  imports: [TypeOrmModule.forFeature([CatalogGroup, CatalogScript]), DiscoveryModule],
  controllers: [CatalogGrpcController],
  providers: [ScriptMetadataRepository, PersonalTagsRepository, MetadataService],
})
export class ScriptsModule {}
