import { Injectable } from '@nestjs/common';
import type { Caller } from '#common/auth.js';
import { notFound } from '#common/errors.js';
import { isUuid } from '#common/ids.js';
import { mayRead } from './log-access.js';
import type { LogStream } from './log-stream.entity.js';
import { LogStreamsRepository } from './log-streams.repository.js';

/** The one check before a log is read, searched or exported: the caller's own run, or the caller an admin. */
@Injectable()
export class LogAccess {
  constructor(private readonly streams: LogStreamsRepository) {}

  /** The log's row whoever owns it (for work already authorized). */
  streamOf(executionId: string): Promise<LogStream | null> {
    return this.streams.find(executionId);
  }

  /** The log of `executionId` if the caller may read it, waiting up to `waitMs` for a just-accepted run's log to be registered. */
  async readableStream(caller: Caller, executionId: string, waitMs = 0): Promise<LogStream> {
    // Not an id this platform issues: it names no log (and must not reach a uuid column).
    if (!isUuid(executionId)) throw notFound(`No log for execution ${executionId}`);
    const deadline = Date.now() + waitMs;
    for (;;) {
      const stream = await this.streams.find(executionId);
      if (stream) {
        // Someone else's run is reported as missing, so ids cannot be probed.
        if (!mayRead(caller, stream.userId)) break;
        return stream;
      }
      if (Date.now() >= deadline) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw notFound(`No log for execution ${executionId}`);
  }
}
