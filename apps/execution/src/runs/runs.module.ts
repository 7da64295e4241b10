import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { CatalogModule } from '../catalog/catalog.module.js';
import { RuntimeModule } from '../runtime/runtime.module.js';
import { ExecutionRecord } from './execution.entity.js';
import { ExecutionRepository } from './execution.repository.js';
import { RunControlService } from './run-control.service.js';
import { RunDispatcher } from './run-dispatcher.service.js';
import { RunStateStore } from './run-state.store.js';
import { RunsGrpcController } from './runs.grpc.js';
import { RunControl, RunSubmission } from './runs.port.js';
import { RunsService } from './runs.service.js';

/** Runs: submission, the queue and its dispatcher. Global: other features reach runs through RunSubmission and RunControl. */
@Global()
@Module({
  imports: [TypeOrmModule.forFeature([ExecutionRecord]), CatalogModule, RuntimeModule],
  controllers: [RunsGrpcController],
  providers: [
    RunsService,
    ExecutionRepository,
    RunDispatcher,
    RunStateStore,
    RunControlService,
    { provide: RunSubmission, useExisting: RunsService },
    { provide: RunControl, useExisting: RunControlService },
  ],
  exports: [RunSubmission, RunControl],
})
export class RunsModule {}
