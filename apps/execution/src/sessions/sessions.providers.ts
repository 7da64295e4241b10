import { SessionsGrpcController } from './sessions.grpc.js';
import { SessionsService } from './sessions.service.js';

/**
 * Interactive sessions live beside the runs (RunsModule registers these): a session is
 * opened by the run's submission and ends by cancelling its run, so both need the same
 * dispatcher and state store, and a module of their own would import the runs module
 * while being imported by it.
 */
export const SESSION_CONTROLLERS = [SessionsGrpcController];
export const SESSION_PROVIDERS = [SessionsService];
