import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { CODE_SESSION_SETTINGS, codeSessionSettings } from '../projects/projects.config.js';
import { ExecutionRecord } from '../runs/execution.entity.js';
import { CodeSessionRecord } from './code-session.entity.js';
import { CodeSessionsGrpcController } from './code-sessions.grpc.js';
import { CodeSessionsService } from './code-sessions.service.js';

/** Code sessions: developers' ad-hoc source, autosaved with optimistic locking, executed as runs. */
@Module({
  imports: [TypeOrmModule.forFeature([CodeSessionRecord, ExecutionRecord])],
  controllers: [CodeSessionsGrpcController],
  providers: [CodeSessionsService, { provide: CODE_SESSION_SETTINGS, useFactory: () => codeSessionSettings() }],
})
export class CodeSessionsModule {}
