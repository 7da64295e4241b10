import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { CatalogModule } from '../catalog/catalog.module.js';
import type { ExecutionConfig } from '../execution.config.js';
import { KubernetesRuntime } from '../runtime/kubernetes/kubernetes.runtime.js';
import { LocalProcessRuntime } from '../runtime/local-process.runtime.js';
import { ScriptRuntime } from '../runtime/script-runtime.js';
import { SESSION_CONTROLLERS, SESSION_PROVIDERS } from '../sessions/sessions.providers.js';
import { ExecutionRecord } from './execution.entity.js';
import { RunDispatcher } from './run-dispatcher.service.js';
import { RunStateStore } from './run-state.store.js';
import { RunsGrpcController } from './runs.grpc.js';
import { RunsService } from './runs.service.js';

@Module({
  imports: [TypeOrmModule.forFeature([ExecutionRecord]), CatalogModule],
  controllers: [RunsGrpcController, ...SESSION_CONTROLLERS],
  providers: [RunsService, RunDispatcher, RunStateStore, ...SESSION_PROVIDERS, {
      provide: ScriptRuntime,
      inject: ['SERVICE_CONFIG'],
      useFactory: (config: ExecutionConfig) =>
        config.EXECUTION_RUNTIME === 'kubernetes' ? KubernetesRuntime.fromConfig(config) : new LocalProcessRuntime(config),
    }],
})
export class RunsModule {}
