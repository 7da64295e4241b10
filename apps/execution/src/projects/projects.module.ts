import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { CatalogModule } from '../catalog/catalog.module.js';
import { ActiveProjectRecord, ProjectRecord } from './project.entity.js';
import { PROJECT_SETTINGS, projectSettings } from './projects.config.js';
import { ProjectsGrpcController } from './projects.grpc.js';
import { ProjectsService } from './projects.service.js';

/** Projects and their data directories. Global so the run path (RunsService) can resolve a run's project. */
@Global()
@Module({
  imports: [TypeOrmModule.forFeature([ProjectRecord, ActiveProjectRecord]), CatalogModule],
  controllers: [ProjectsGrpcController],
  providers: [ProjectsService, { provide: PROJECT_SETTINGS, useFactory: () => projectSettings() }],
  exports: [ProjectsService],
})
export class ProjectsModule {}
