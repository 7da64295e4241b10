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
const REPLAY_BATCH = 10_000;
/** How long a tail waits for lines produced before it subscribed to reach the store. */
const GAP_WAIT_MS = 5000;
/** A tail with no live output for this long looks in the store (e.g. for a completion it missed). */
const IDLE_CHECK_MS = 2000;

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
   * Replays stored lines after `afterSequence`, then forwards output as it is
   * produced, before it is stored, so a line reaches the client without waiting for
   * the database. The live feed is subscribed before the replay reads; a live batch
   * that starts past the last line sent means lines were produced before the
   * subscription and are still on their way to the store: they are read from it
   * first. Every line is sent once, in order, with no gap.
   */
  tailLog(request: TailLogRequest, metadata?: Metadata): Observable<LogChunk> {
    const caller = callerOf(metadata);
    const { executionId } = request;
    return new Observable<LogChunk>((observer) => {
      let lastSent = request.afterSequence;
      let done = false;
      let idleTimer: NodeJS.Timeout | undefined;

      const send = (lines: OutputLine[], final: boolean) => {
        if (done) return;
        const fresh = lines.filter((l) => l.sequence > lastSent);
        if (fresh.length) lastSent = fresh.at(-1)!.sequence;
        if (fresh.length || final) observer.next({ executionId, lines: fresh, complete: final });
        if (final) {
          done = true;
          observer.complete();
        }
      };
      const replayUpTo = async (upTo: number) => {
        for (;;) {
          const lines = await this.store.read(executionId, lastSent, Math.min(REPLAY_BATCH, upTo - lastSent));
          send(lines, false);
          if (lines.length === 0 || lastSent >= upTo) return;
        }
      };
      // Lines produced before the subscription may still be on their way to the store: memory first, then the store.
      const fillGap = async (upTo: number) => {
        const remembered = this.live.recentLines(executionId, lastSent, upTo);
        if (remembered) send(remembered, false);
        const deadline = Date.now() + GAP_WAIT_MS;
        while (lastSent < upTo && Date.now() < deadline) {
          await replayUpTo(upTo);
          if (lastSent < upTo) await new Promise((r) => setTimeout(r, 20));
        }
      };
      // Completion announced before the subscription is only in the store: look there when idle.
      const checkStoreWhenIdle = () => {
        clearTimeout(idleTimer);
        if (!done) idleTimer = setTimeout(() => enqueue(catchUpFromStore), IDLE_CHECK_MS);
      };
      const catchUpFromStore = async () => {
        await replayUpTo(Number.MAX_SAFE_INTEGER);
        const stream = await this.store.findStream(executionId);
        if (!request.follow || (stream?.complete && lastSent >= stream.lineCount)) send([], true);
        else checkStoreWhenIdle();
      };

      // Every step runs after the previous one, so lines leave in order.
      let chain: Promise<unknown> = Promise.resolve();
      const enqueue = (step: () => Promise<unknown>) => {
        chain = chain.then(() => (done ? undefined : step())).catch((error) => {
          if (!done) observer.error(error);
          done = true;
        });
      };
      enqueue(() => this.authorizedStream(caller, executionId, request.follow ? REGISTRATION_WAIT_MS : 0));
      const liveSubscription = request.follow
        ? this.live.follow(executionId).subscribe((event) =>
            enqueue(async () => {
              const first = event.lines.find((l) => l.sequence > lastSent);
              if (first && first.sequence > lastSent + 1) await fillGap(first.sequence - 1);
              send(event.lines, event.final);
              checkStoreWhenIdle();
            }),
          )
        : undefined;
      enqueue(catchUpFromStore);

      return () => {
        done = true;
        clearTimeout(idleTimer);
        liveSubscription?.unsubscribe();
      };
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
      await new Promise((r) => setTimeout(r, 10));
    }
    throw notFound(`No log for execution ${executionId}`);
  }
}
