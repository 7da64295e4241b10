import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { CodeSessionRecord } from './code-session.entity.js';
import { CODE_SESSION_SETTINGS, codeSessionSettings } from './code-sessions.config.js';
import { CodeSessionsGrpcController } from './code-sessions.grpc.js';
import { CodeSessionsRepository } from './code-sessions.repository.js';
import { CodeSessionsService } from './code-sessions.service.js';

/** Code sessions: developers' ad-hoc source, autosaved with optimistic locking, executed as runs (through RunSubmission, which RunsModule provides). */
@Module({
  imports: [TypeOrmModule.forFeature([CodeSessionRecord])],
  controllers: [CodeSessionsGrpcController],
  providers: [CodeSessionsService, CodeSessionsRepository, { provide: CODE_SESSION_SETTINGS, useFactory: () => codeSessionSettings() }],
})
export class CodeSessionsModule {}
