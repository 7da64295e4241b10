import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DiscoveryModule } from '../discovery/discovery.module.js';
import { CatalogGroup, CatalogScript } from './catalog.entities.js';
import { CatalogGrpcController } from './catalog.grpc.js';

@Module({
  imports: [TypeOrmModule.forFeature([CatalogGroup, CatalogScript]), DiscoveryModule],
  controllers: [CatalogGrpcController],
})
export class ScriptsModule {}
