import { Global, Module } from '@nestjs/common';
import { SessionOpener, SessionRoutes } from '../runs/sessions.port.js';
import { RuntimeModule } from '../runtime/runtime.module.js';
import { SessionsGrpcController } from './sessions.grpc.js';
import { SessionsRepository } from './sessions.repository.js';
import { SessionsService } from './sessions.service.js';

/**
 * Interactive sessions. A session is opened by its run's submission and ends by cancelling its
 * run: runs reach sessions through SessionOpener and SessionRoutes (provided here), sessions
 * reach runs through RunControl (provided by RunsModule). Global, as RunsModule is, so
 * neither module imports the other.
 */
@Global()
@Module({
  imports: [RuntimeModule],
  controllers: [SessionsGrpcController],
  providers: [
    SessionsService,
    SessionsRepository,
    { provide: SessionOpener, useExisting: SessionsService },
    { provide: SessionRoutes, useExisting: SessionsRepository },
  ],
  exports: [SessionOpener, SessionRoutes],
})
export class SessionsModule {}
