import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import type { Metadata } from '@grpc/grpc-js';
import type { LoggingServiceController, SearchLogRequest, SearchLogResponse, SearchLogsRequest, SearchLogsResponse } from '#contracts/generated/scriptorium/logging/v1/logging.js';
import { callerOf } from '#common/auth.js';
import { LogAccess } from '../logs/log-access.service.js';
import { SearchService } from './search.service.js';

@Controller()
export class SearchGrpcController implements Pick<LoggingServiceController, 'searchLogs' | 'searchLog'> {
  constructor(
    private readonly search: SearchService,
    private readonly access: LogAccess,
  ) {}

  @GrpcMethod('LoggingService', 'searchLogs')
  searchLogs(request: SearchLogsRequest, metadata?: Metadata): Promise<SearchLogsResponse> {
    return this.search.searchLogs(callerOf(metadata), request);
  }

  @GrpcMethod('LoggingService', 'searchLog')
  async searchLog(request: SearchLogRequest, metadata?: Metadata): Promise<SearchLogResponse> {
    await this.access.readableStream(callerOf(metadata), request.executionId);
    return this.search.searchLog(request);
  }
}
