import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post, Put, Query, Res, type OnModuleInit } from '@nestjs/common';
import { ApiOkResponse, ApiProduces } from '@nestjs/swagger';
import type { Response } from 'express';
import type { ClientGrpc } from '@nestjs/microservices';
import type { ClientReadableStream, Metadata } from '@grpc/grpc-js';
import { firstValueFrom } from 'rxjs';
import { grpcAnswer } from '../grpc-answer.js';
import type { Caller } from '#common/auth.js';
import { callMetadata, grpcClientToken } from '#common/grpc.js';
import { GrpcPackages } from '#contracts/grpc-packages.js';
import type { ExportChunk, LogFilter, LoggingServiceClient } from '#contracts/generated/scriptorium/logging/v1/logging.js';
import { CurrentCaller } from '../auth/current-caller.decorator.js';
import { ApiErrors } from '../error-body.js';
import { ExecutionIdPipe } from '../executions/execution-id.pipe.js';
import {
  CleanupDto,
  CleanupReportDto,
  DeletedLogsDto,
  DeleteLogsDto,
  ExportLogQuery,
  ExportLogsQuery,
  LogFilterQuery,
  LogLinesDto,
  LogStatisticsDto,
  ReadLogQuery,
  RetentionPoliciesDto,
  RetentionPolicyDto,
  RunLogDto,
  SearchLogQuery,
  SearchLogResponseDto,
  SearchLogsQuery,
  SearchLogsResponseDto,
  SetRetentionPolicyDto,
  StatisticsQuery,
} from './dto.js';

const list = (value: string | undefined) => (value ? value.split(',') : []);

function filterOf(q: LogFilterQuery): LogFilter {
  return {
    userId: q.userId ?? '',
    allUsers: q.allUsers ?? false,
    scriptId: q.scriptId ?? '',
    groupId: q.groupId ?? '',
    projectId: q.projectId ?? '',
    states: list(q.states),
    from: q.from ?? '',
    to: q.to ?? '',
    minDurationMs: q.minDurationMs,
    maxDurationMs: q.maxDurationMs,
  };
}

type RawLoggingClient = Record<'exportLog' | 'exportLogs', (request: object, metadata: Metadata) => ClientReadableStream<ExportChunk>>;

/**
 * Logs beyond one run's page (`/executions/:id/log`): search, stream classes, export,
 * statistics and retention. Who may see what is decided by the logging service: your own
 * runs' logs, everyone's for admins, someone else's run answered 404.
 */
@Controller('api/v1/logs')
export class LogsController implements OnModuleInit {
  private logging: LoggingServiceClient;

  constructor(@Inject(grpcClientToken('logging')) private readonly loggingClient: ClientGrpc) {}

  onModuleInit() {
    this.logging = this.loggingClient.getService(GrpcPackages.logging.service);
  }

  /** Full-text search across your runs' logs (lines, parameters, metadata); admins: `allUsers` or `userId`. */
  @Get('search')
  @ApiErrors({ 403: 'allUsers or another userId without being an admin' })
  search(@CurrentCaller() caller: Caller, @Query() q: SearchLogsQuery): Promise<SearchLogsResponseDto> {
    return grpcAnswer(
      this.logging.searchLogs(
        { query: q.q, filter: filterOf(q), streams: list(q.streams), pageSize: q.pageSize ?? 0, pageToken: q.pageToken ?? '', timeLimitMs: q.timeLimitMs ?? 0 },
        callMetadata(caller.authorization),
      ),
    );
  }

  @Get('statistics')
  @ApiErrors({ 403: 'allUsers or another userId without being an admin' })
  statistics(@CurrentCaller() caller: Caller, @Query() q: StatisticsQuery): Promise<LogStatisticsDto> {
    return grpcAnswer(
      this.logging.getLogStatistics({ userId: q.userId ?? '', allUsers: q.allUsers ?? false, from: q.from ?? '', to: q.to ?? '' }, callMetadata(caller.authorization)),
    );
  }

  /** The logs of the runs a filter selects (newest first) as one tar.gz, streamed. */
  @Get('export')
  @ApiProduces('application/gzip')
  @ApiOkResponse({ description: 'A tar.gz with one file per run, each starting with its run context', content: { 'application/gzip': { schema: { type: 'string', format: 'binary' } } } })
  exportMany(@CurrentCaller() caller: Caller, @Query() q: ExportLogsQuery, @Res() res: Response) {
    return this.pipe(res, (raw) => raw.exportLogs({ filter: filterOf(q), format: q.format ?? '', maxRuns: q.maxRuns ?? 0 }, callMetadata(caller.authorization)));
  }

  @Get('retention-policies')
  async policies(@CurrentCaller() caller: Caller): Promise<RetentionPoliciesDto> {
    return grpcAnswer(this.logging.listRetentionPolicies({}, callMetadata(caller.authorization)));
  }

  /** Creates or replaces the policy of a scope and target (admins). */
  @Put('retention-policies')
  setPolicy(@CurrentCaller() caller: Caller, @Body() body: SetRetentionPolicyDto): Promise<RetentionPolicyDto> {
    return grpcAnswer(
      this.logging.setRetentionPolicy(
        { scope: body.scope, target: body.target, keepDays: body.keepDays, maxRunsPerScript: body.maxRunsPerScript, maxBytesPerUser: body.maxBytesPerUser },
        callMetadata(caller.authorization),
      ),
    );
  }

  @Delete('retention-policies/:id')
  @HttpCode(204)
  async deletePolicy(@CurrentCaller() caller: Caller, @Param('id') id: string): Promise<void> {
    await firstValueFrom(this.logging.deleteRetentionPolicy({ id }, callMetadata(caller.authorization)));
  }

  /** Applies the retention policies now (admins); with dryRun, lists what that would delete. */
  @Post('cleanup')
  @HttpCode(200)
  cleanup(@CurrentCaller() caller: Caller, @Body() body: CleanupDto): Promise<CleanupReportDto> {
    return grpcAnswer(this.logging.runCleanup({ dryRun: body.dryRun ?? false }, callMetadata(caller.authorization)));
  }

  /** Deletes finished runs' logs: yours, or (admins) anyone's, e.g. one user's with userId + allFinished. */
  @Post('deletions')
  @HttpCode(200)
  @ApiErrors({ 404: 'None of the runs has a finished log of the caller (or, for admins, of anyone) to delete' })
  deleteMany(@CurrentCaller() caller: Caller, @Body() body: DeleteLogsDto): Promise<DeletedLogsDto> {
    return grpcAnswer(
      this.logging.deleteLogs({ executionIds: body.executionIds ?? [], userId: body.userId ?? '', allFinished: body.allFinished ?? false }, callMetadata(caller.authorization)),
    );
  }

  /** The run's context and its log's state (size, complete, deleted). */
  @Get(':executionId')
  run(@CurrentCaller() caller: Caller, @Param('executionId', ExecutionIdPipe) id: string): Promise<RunLogDto> {
    return grpcAnswer(this.logging.getRunLog({ executionId: id }, callMetadata(caller.authorization)));
  }

  /** Stored lines, optionally of some streams only (the Output / Errors / Debug views). */
  @Get(':executionId/lines')
  lines(@CurrentCaller() caller: Caller, @Param('executionId', ExecutionIdPipe) id: string, @Query() q: ReadLogQuery): Promise<LogLinesDto> {
    return grpcAnswer(
      this.logging.readLog({ executionId: id, afterSequence: q.after ?? 0, limit: q.limit ?? 1000, streams: list(q.streams) }, callMetadata(caller.authorization)),
    );
  }

  /** Matching lines of one log, in order (find-in-log for logs too large for the page). */
  @Get(':executionId/search')
  searchOne(@CurrentCaller() caller: Caller, @Param('executionId', ExecutionIdPipe) id: string, @Query() q: SearchLogQuery): Promise<SearchLogResponseDto> {
    return grpcAnswer(
      this.logging.searchLog(
        { executionId: id, query: q.q, streams: list(q.streams), afterSequence: q.after ?? 0, limit: q.limit ?? 0, timeLimitMs: q.timeLimitMs ?? 0 },
        callMetadata(caller.authorization),
      ),
    );
  }

  /** One log as text, JSON lines or CSV, starting with its run context, streamed as an attachment. */
  @Get(':executionId/export')
  @ApiProduces('text/plain', 'application/x-ndjson', 'text/csv')
  @ApiOkResponse({ description: 'The log in the asked format', content: { 'text/plain': { schema: { type: 'string' } }, 'application/x-ndjson': { schema: { type: 'string' } }, 'text/csv': { schema: { type: 'string' } } } })
  exportOne(@CurrentCaller() caller: Caller, @Param('executionId', ExecutionIdPipe) id: string, @Query() q: ExportLogQuery, @Res() res: Response) {
    return this.pipe(res, (raw) => raw.exportLog({ executionId: id, format: q.format ?? '', streams: list(q.streams) }, callMetadata(caller.authorization)));
  }

  /** Deletes the log of one of your finished runs (admins: anyone's). */
  @Delete(':executionId')
  @HttpCode(204)
  async deleteOne(@CurrentCaller() caller: Caller, @Param('executionId', ExecutionIdPipe) id: string): Promise<void> {
    await firstValueFrom(this.logging.deleteLogs({ executionIds: [id], userId: '', allFinished: false }, callMetadata(caller.authorization)));
  }

  /**
   * Streams an export to the HTTP client at its pace: the gRPC stream is paused while the
   * response is full. Until the first message (content type, file name) an error is the
   * request's answer (400 for an unknown format, 404…); after it, the response is cut.
   */
  private async pipe(res: Response, open: (raw: RawLoggingClient) => ClientReadableStream<ExportChunk>) {
    const raw = (this.loggingClient as unknown as { getClientByServiceName(name: string): RawLoggingClient }).getClientByServiceName(GrpcPackages.logging.service);
    const call = open(raw);
    res.on('close', () => call.cancel());
    await new Promise<void>((resolve, reject) => {
      let started = false;
      call.on('data', (chunk: ExportChunk) => {
        if (!started) {
          started = true;
          res.setHeader('Content-Type', chunk.contentType);
          res.setHeader('Content-Disposition', `attachment; filename="${chunk.fileName}"`);
          res.setHeader('X-Content-Type-Options', 'nosniff');
          res.status(200);
          resolve();
        }
        if (chunk.data.length && !res.write(chunk.data)) {
          call.pause();
          res.once('drain', () => call.resume());
        }
      });
      // grpc-js ends the stream after a failed status too: only a started answer is ended here.
      call.on('end', () => {
        if (started) res.end();
      });
      call.on('error', (error) => {
        if (!started) reject(error);
        else res.destroy(error);
      });
    });
  }
}
