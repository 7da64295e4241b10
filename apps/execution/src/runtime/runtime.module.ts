import { Module } from '@nestjs/common';
import type { ExecutionConfig } from '../execution.config.js';
import { sessionsConfigFrom } from '../sessions/sessions.config.js';
import { KubernetesRuntime } from './kubernetes/kubernetes.runtime.js';
import { LocalProcessRuntime } from './local-process.runtime.js';
import { ScriptRuntime } from './script-runtime.js';

/** The one place a runtime is chosen (EXECUTION_RUNTIME); everything else knows only ScriptRuntime. */
@Module({
  providers: [
    {
      provide: ScriptRuntime,
      inject: ['SERVICE_CONFIG'],
      useFactory: (config: ExecutionConfig) =>
        config.EXECUTION_RUNTIME === 'kubernetes'
          ? KubernetesRuntime.fromConfig(config, sessionsConfigFrom(config).SESSION_PORT)
          : new LocalProcessRuntime(config),
    },
  ],
  exports: [ScriptRuntime],
})
export class RuntimeModule {}
