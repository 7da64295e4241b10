import { Controller } from '@nestjs/common';
import type { Metadata } from '@grpc/grpc-js';
import { Observable } from 'rxjs';
import {
  LoggingServiceControllerMethods,
  type GetLogRequest,
  type LogChunk,
  type LoggingServiceController,
  type TailLogRequest,
} from '#contracts/generated/scriptorium/logging/v1/logging.js';
import type { OutputLine } from '#contracts/events.js';
import { callerOf, type Caller } from '#common/auth.js';
import { notFound } from '#common/errors.js';
import { LiveTails } from './live-tails.service.js';
import { LogStore } from './log-store.service.js';
import type { LogStream } from './log-stream.entity.js';

/** How long a tail waits for a just-accepted run's log to be registered. */
const REGISTRATION_WAIT_MS = 3000;
const REPLAY_BATCH = 2000;

@Controller()
@LoggingServiceControllerMethods()
export class LogsGrpcController implements LoggingServiceController {
  constructor(
    private readonly store: LogStore,
    private readonly live: LiveTails,
  ) {}

  async getLog(request: GetLogRequest, metadata?: Metadata): Promise<LogChunk> {
    const stream = await this.authorizedStream(callerOf(metadata), request.executionId, 0);
    const limit = request.limit > 0 ? Math.min(request.limit, 10_000) : 10_000;
    const lines = await this.store.read(request.executionId, request.afterSequence, limit);
    const lastSent = lines.at(-1)?.sequence ?? request.afterSequence;
    return { executionId: request.executionId, lines, complete: stream.complete && lastSent >= stream.lineCount };
  }

  /**
   * Replays stored lines after `afterSequence`, then follows live ones. The live
   * feed is subscribed before the replay reads, and every line is sent only if its
   * sequence follows the last one sent, so there is neither a gap nor a duplicate.
   */
  tailLog(request: TailLogRequest, metadata?: Metadata): Observable<LogChunk> {
    const caller = callerOf(metadata);
    const { executionId } = request;
    return new Observable<LogChunk>((observer) => {
      let lastSent = request.afterSequence;
      let replaying = true;
      const buffered: { lines: OutputLine[]; final: boolean }[] = [];
      let finished = false;

      const send = (lines: OutputLine[], final: boolean) => {
        const fresh = lines.filter((l) => l.sequence > lastSent);
        if (fresh.length) lastSent = fresh.at(-1)!.sequence;
        if (fresh.length || final) observer.next({ executionId, lines: fresh, complete: final });
        if (final && !finished) {
          finished = true;
          observer.complete();
        }
      };

      const liveSubscription = request.follow
        ? this.live.follow(executionId).subscribe((event) => {
            if (replaying) buffered.push({ lines: event.lines, final: event.final });
            else send(event.lines, event.final);
          })
        : undefined;

      (async () => {
        await this.authorizedStream(caller, executionId, request.follow ? REGISTRATION_WAIT_MS : 0);
        for (;;) {
          const lines = await this.store.read(executionId, lastSent, REPLAY_BATCH);
          if (lines.length) send(lines, false);
          if (lines.length < REPLAY_BATCH) break;
        }
        const current = await this.store.findStream(executionId);
        replaying = false;
        if (!request.follow || (current?.complete && lastSent >= current.lineCount)) {
          return send([], true);
        }
        for (const b of buffered.splice(0)) send(b.lines, b.final);
      })().catch((error) => observer.error(error));

      return () => liveSubscription?.unsubscribe();
    });
  }

  private async authorizedStream(caller: Caller, executionId: string, waitMs: number): Promise<LogStream> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const stream = await this.store.findStream(executionId);
      if (stream) {
        // Someone else's run is reported as missing, so ids cannot be probed.
        if (stream.userId !== caller.userId && caller.level !== 'admin') break;
        return stream;
      }
      if (Date.now() >= deadline) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw notFound(`No log for execution ${executionId}`);
  }
}
