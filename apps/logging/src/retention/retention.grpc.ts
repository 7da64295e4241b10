import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import type { Metadata } from '@grpc/grpc-js';
import type {
  CleanupReport,
  DeleteLogsRequest,
  DeleteLogsResponse,
  DeleteRetentionPolicyRequest,
  DeleteRetentionPolicyResponse,
  ListRetentionPoliciesResponse,
  LoggingServiceController,
  RetentionPolicy,
  RunCleanupRequest,
  SetRetentionPolicyRequest,
} from '#contracts/generated/scriptorium/logging/v1/logging.js';
import { callerOf, requireLevel, type Caller } from '#common/auth.js';
import { RetentionRepository } from './retention.repository.js';
import { policyView, RetentionService } from './retention.service.js';

const admin = (metadata: Metadata | undefined, what: string): Caller => {
  const caller = callerOf(metadata);
  requireLevel(caller, 'admin', what);
  return caller;
};

@Controller()
export class RetentionGrpcController
  implements Pick<LoggingServiceController, 'listRetentionPolicies' | 'setRetentionPolicy' | 'deleteRetentionPolicy' | 'runCleanup' | 'deleteLogs'>
{
  constructor(
    private readonly retention: RetentionService,
    private readonly repository: RetentionRepository,
  ) {}

  @GrpcMethod('LoggingService', 'listRetentionPolicies')
  async listRetentionPolicies(_: unknown, metadata?: Metadata): Promise<ListRetentionPoliciesResponse> {
    admin(metadata, 'Reading retention policies');
    return { policies: (await this.repository.listPolicies()).map(policyView) };
  }

  @GrpcMethod('LoggingService', 'setRetentionPolicy')
  setRetentionPolicy(request: SetRetentionPolicyRequest, metadata?: Metadata): Promise<RetentionPolicy> {
    return this.retention.setPolicy(admin(metadata, 'Setting a retention policy'), request);
  }

  @GrpcMethod('LoggingService', 'deleteRetentionPolicy')
  async deleteRetentionPolicy(request: DeleteRetentionPolicyRequest, metadata?: Metadata): Promise<DeleteRetentionPolicyResponse> {
    await this.retention.deletePolicy(admin(metadata, 'Deleting a retention policy'), request.id);
    return {};
  }

  @GrpcMethod('LoggingService', 'runCleanup')
  runCleanup(request: RunCleanupRequest, metadata?: Metadata): Promise<CleanupReport> {
    return this.retention.cleanup(request.dryRun, admin(metadata, 'Running the log cleanup'));
  }

  @GrpcMethod('LoggingService', 'deleteLogs')
  async deleteLogs(request: DeleteLogsRequest, metadata?: Metadata): Promise<DeleteLogsResponse> {
    return { executionIds: await this.retention.deleteLogs(callerOf(metadata), request) };
  }
}
