import { Controller, Get, Param, Res } from '@nestjs/common';
import { ApiOkResponse, ApiProduces } from '@nestjs/swagger';
import type { Response } from 'express';
import type { Observable } from 'rxjs';
import type { Caller } from '#common/auth.js';
import { callMetadata } from '#common/grpc.js';
import type { ArchiveChunk } from '#contracts/generated/scriptorium/backup/v1/backup.js';
import { CurrentCaller } from '../auth/current-caller.decorator.js';
import { ServiceClients } from '../service-clients.js';

/** A project's data folder as a zip, for its owner (others are told it does not exist) and admins. */
@Controller('api/v1/projects')
export class ProjectArchiveController {
  constructor(private readonly clients: ServiceClients) {}

  @Get(':id/archive')
  @ApiProduces('application/zip')
  @ApiOkResponse({ description: 'A zip of the project\'s files', content: { 'application/zip': { schema: { type: 'string', format: 'binary' } } } })
  async archive(@CurrentCaller() caller: Caller, @Param('id') id: string, @Res() res: Response): Promise<void> {
    const chunks: Observable<ArchiveChunk> = this.clients.backup.exportProject({ projectId: id }, callMetadata(caller.authorization));
    // The first chunk (or the refusal) comes before any header is sent, so a 404 is still a 404.
    const iterator = toAsyncIterator(chunks);
    const first = await iterator.next();
    res.setHeader('Content-Type', 'application/zip');
    res.setHeader('Content-Disposition', `attachment; filename="project-${id}.zip"`);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    if (!first.done) res.write(Buffer.from(first.value.data));
    try {
      for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
        if (!res.write(Buffer.from(next.value.data))) await new Promise((resolve) => res.once('drain', resolve));
      }
      res.end();
    } catch {
      res.destroy(); // headers are gone: a cut connection is the only way to say the zip is incomplete
    }
  }
}

/** An Observable read one value at a time (values that arrive meanwhile wait in order). */
function toAsyncIterator<T>(source: Observable<T>): AsyncIterator<T> {
  const queue: T[] = [];
  let done = false;
  let failure: unknown;
  let wake: (() => void) | undefined;
  source.subscribe({
    next: (value) => {
      queue.push(value);
      wake?.();
    },
    error: (error) => {
      failure = error;
      done = true;
      wake?.();
    },
    complete: () => {
      done = true;
      wake?.();
    },
  });
  return {
    async next() {
      while (!queue.length && !done) await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
      if (queue.length) return { value: queue.shift()!, done: false };
      if (failure) throw failure;
      return { value: undefined, done: true };
    },
  };
}

