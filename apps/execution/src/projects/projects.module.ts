import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { CatalogModule } from '../catalog/catalog.module.js';
import { ActiveProjectRecord, ProjectRecord } from './project.entity.js';
import { PROJECT_SETTINGS, projectSettings } from './projects.config.js';
import { ProjectsGrpcController } from './projects.grpc.js';
import { RunProjects } from './projects.port.js';
import { ProjectsRepository } from './projects.repository.js';
import { ProjectsService } from './projects.service.js';

/** Projects and their data directories. Global: runs and code sessions resolve a run's project through RunProjects. */
@Global()
@Module({
  imports: [TypeOrmModule.forFeature([ProjectRecord, ActiveProjectRecord]), CatalogModule],
  controllers: [ProjectsGrpcController],
  providers: [ProjectsService, ProjectsRepository, { provide: RunProjects, useExisting: ProjectsService }, { provide: PROJECT_SETTINGS, useFactory: () => projectSettings() }],
  exports: [RunProjects],
})
export class ProjectsModule {}
