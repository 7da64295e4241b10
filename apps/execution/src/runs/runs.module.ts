import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { CatalogClient } from '../catalog/catalog.client.js';
import { LocalProcessRuntime } from '../runtime/local-process.runtime.js';
import { ScriptRuntime } from '../runtime/script-runtime.js';
import { ExecutionRecord } from './execution.entity.js';
import { RunDispatcher } from './run-dispatcher.service.js';
import { RunStateStore } from './run-state.store.js';
import { RunsGrpcController } from './runs.grpc.js';
import { RunsService } from './runs.service.js';

@Module({
  imports: [TypeOrmModule.forFeature([ExecutionRecord])],
  controllers: [RunsGrpcController],
  providers: [RunsService, RunDispatcher, RunStateStore, CatalogClient, { provide: ScriptRuntime, useClass: LocalProcessRuntime }],
})
export class RunsModule {}
