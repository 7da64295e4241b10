import { Body, Controller, Get, Headers, HttpCode, Param, Post, Query, Req, Res } from '@nestjs/common';
import { ApiExtraModels, ApiHeader, ApiOkResponse, ApiProduces, getSchemaPath } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { catchError, firstValueFrom, lastValueFrom, map, reduce, throwError, type Observable } from 'rxjs';
import type { Caller } from '#common/auth.js';
import { grpcErrorToHttp, namePeerUnavailable } from '#common/errors.js';
import { callMetadata } from '#common/grpc.js';
import { CurrentCaller } from '../auth/current-caller.decorator.js';
import { KEEPALIVE_MS, LiveRunStream, type LiveEvent } from '../live/live-run-stream.js';
import { ServiceClients } from '../service-clients.js';
import { ListExecutionsQuery, LogQuery, RerunDto, RunScriptDto } from './dto.js';
import { ApiErrors } from '../error-body.js';
import { ExecutionIdPipe } from './execution-id.pipe.js';
import { executionView } from './execution-view.js';
import { ExecutionDto, ExecutionPageDto, LogPageDto } from './execution.dto.js';

@Controller('api/v1/executions')
export class ExecutionsController {
  constructor(
    private readonly clients: ServiceClients,
    private readonly liveRuns: LiveRunStream,
  ) {}

  /** Starts a run. Send `Idempotency-Key` so a retried request never starts a second run. */
  @Post()
  @HttpCode(202)
  @ApiErrors({
    404: 'No such script, or above the caller\'s level; or projectId names no project of the caller',
    409: 'The script cannot run: its header is invalid',
    422: 'IDEMPOTENCY_KEY_REUSED: this Idempotency-Key was given with another request',
    429: 'Too many runs submitted, the queue is full, or too many open interactive sessions (Retry-After)',
  })
  @ApiHeader({ name: 'Idempotency-Key', required: false, description: 'The same key (per user) answers the first run instead of starting another' })
  async run(@CurrentCaller() caller: Caller, @Body() body: RunScriptDto, @Headers('idempotency-key') idempotencyKey = ''): Promise<ExecutionDto> {
    const execution = await firstValueFrom(
      this.clients.execution.runScript(
        {
          scriptId: body.scriptId,
          parametersJson: JSON.stringify(body.parameters ?? {}),
          projectId: body.projectId ?? '',
          idempotencyKey,
          language: body.language ?? '',
        },
        callMetadata(caller.authorization),
      ),
    );
    return executionView(execution);
  }

  @Get()
  async list(@CurrentCaller() caller: Caller, @Query() query: ListExecutionsQuery): Promise<ExecutionPageDto> {
    const page = await firstValueFrom(
      this.clients.execution.listExecutions(
        {
          pageSize: query.pageSize ?? 50,
          pageToken: query.pageToken ?? '',
          scriptId: query.scriptId ?? '',
          state: query.state ?? '',
          allUsers: query.allUsers ?? false,
        },
        callMetadata(caller.authorization),
      ),
    );
    return { items: page.executions.map(executionView), nextPageToken: page.nextPageToken || null };
  }

  /** Every later change of the caller's runs (admins: `allUsers=true` for everyone's), as Server-Sent Events. */
  @Get('live')
  @ApiProduces('text/event-stream')
  @ApiOkResponse({ description: 'Server-Sent Events; each data is a JSON LiveEvent', content: { 'text/event-stream': { schema: { type: 'string' } } } })
  changes(@CurrentCaller() caller: Caller, @Query('allUsers') allUsers: string | undefined, @Req() req: Request, @Res() res: Response) {
    const changes = this.clients.execution
      .watchExecutions({ allUsers: allUsers === 'true' }, callMetadata(caller.authorization))
      .pipe(
        map((execution) => ({ type: 'execution' as const, execution: executionView(execution) })),
        catchError((error) => throwError(() => namePeerUnavailable(error, 'execution service'))),
      );
    this.sse(req, res, changes);
  }

  @Get(':id')
  async get(@CurrentCaller() caller: Caller, @Param('id', ExecutionIdPipe) id: string): Promise<ExecutionDto> {
    return executionView(await firstValueFrom(this.clients.execution.getExecution({ executionId: id }, callMetadata(caller.authorization))));
  }

  /** Runs the same script again with the same parameters; secrets are never stored, so give them again in `parameters`. */
  @Post(':id/rerun')
  @HttpCode(202)
  @ApiErrors({
    409: 'The run is a code session\'s (run it again from its session), or its script\'s header is now invalid',
    422: 'IDEMPOTENCY_KEY_REUSED: this Idempotency-Key was given with another request',
    429: 'Too many runs submitted, or the queue is full (Retry-After)',
  })
  @ApiHeader({ name: 'Idempotency-Key', required: false, description: 'The same key (per user) answers the first run instead of starting another' })
  async rerun(@CurrentCaller() caller: Caller, @Param('id', ExecutionIdPipe) id: string, @Body() body: RerunDto, @Headers('idempotency-key') idempotencyKey = ''): Promise<ExecutionDto> {
    const execution = await firstValueFrom(
      this.clients.execution.rerunExecution(
        { executionId: id, idempotencyKey, parametersJson: JSON.stringify(body.parameters ?? {}) },
        callMetadata(caller.authorization),
      ),
    );
    return executionView(execution);
  }

  @Post(':id/cancel')
  @HttpCode(202)
  @ApiErrors({ 409: 'The run already ended' })
  async cancel(@CurrentCaller() caller: Caller, @Param('id', ExecutionIdPipe) id: string): Promise<ExecutionDto> {
    return executionView(await firstValueFrom(this.clients.execution.cancelExecution({ executionId: id }, callMetadata(caller.authorization))));
  }

  /** The stored log: JSON lines (paged by `after`/`limit`) or the whole log as plain text. */
  @Get(':id/log')
  @ApiExtraModels(LogPageDto)
  @ApiOkResponse({
    description: 'JSON lines; with format=text the whole log as a text/plain attachment',
    content: { 'application/json': { schema: { $ref: getSchemaPath(LogPageDto) } }, 'text/plain': { schema: { type: 'string' } } },
  })
  async log(@CurrentCaller() caller: Caller, @Param('id', ExecutionIdPipe) id: string, @Query() query: LogQuery, @Res() res: Response) {
    const metadata = callMetadata(caller.authorization);
    if (query.format === 'text') {
      const lines = await lastValueFrom(
        this.clients.logging.tailLog({ executionId: id, afterSequence: 0, follow: false }, metadata).pipe(reduce((all, chunk) => all.concat(chunk.lines), [] as { text: string }[])),
      );
      res.type('text/plain; charset=utf-8').setHeader('Content-Disposition', `attachment; filename="execution-${id}.log"`);
      return res.send(lines.map((l) => l.text).join('\n') + (lines.length ? '\n' : ''));
    }
    const chunk = await firstValueFrom(this.clients.logging.getLog({ executionId: id, afterSequence: query.after ?? 0, limit: query.limit ?? 1000 }, metadata));
    const page: LogPageDto = { executionId: id, lines: chunk.lines, complete: chunk.complete };
    return res.json(page);
  }

  /**
   * Live run events as Server-Sent Events; each line event's id is its sequence,
   * so EventSource resumes with Last-Event-ID after a reconnect.
   */
  @Get(':id/events')
  @ApiProduces('text/event-stream')
  @ApiOkResponse({ description: 'Server-Sent Events; each data is a JSON LiveEvent', content: { 'text/event-stream': { schema: { type: 'string' } } } })
  events(@CurrentCaller() caller: Caller, @Param('id', ExecutionIdPipe) id: string, @Query() query: LogQuery, @Req() req: Request, @Res() res: Response) {
    const lastEventId = Number(req.headers['last-event-id'] ?? query.after ?? 0);
    this.sse(req, res, this.liveRuns.events(caller, id, Number.isFinite(lastEventId) ? lastEventId : 0));
  }

  /** Writes events as SSE with keepalives and no proxy buffering; a line event's id is its sequence. */
  private sse(req: Request, res: Response, events: Observable<LiveEvent>) {
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.flushHeaders();
    const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
    const subscription = events.subscribe({
      next: (event) => {
        const idLine = event.type === 'lines' && event.lines.length ? `id: ${event.lines.at(-1)!.sequence}\n` : '';
        res.write(`${idLine}event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
      },
      error: (error) => {
        const mapped = grpcErrorToHttp(error);
        res.write(`event: error\ndata: ${JSON.stringify({ status: mapped?.status ?? 500, message: mapped?.body.message ?? 'Internal error' })}\n\n`);
        res.end();
      },
      complete: () => res.end(),
    });
    req.on('close', () => {
      clearInterval(keepalive);
      subscription.unsubscribe();
    });
  }
}
