import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import type { Metadata } from '@grpc/grpc-js';
import { Observable } from 'rxjs';
import {
  type GetLogRequest,
  type LogChunk,
  type ReadLogRequest,
  type LoggingServiceController,
  type TailLogRequest,
} from '#contracts/generated/scriptorium/logging/v1/logging.js';
import type { OutputLine } from '#contracts/events.js';
import { callerOf } from '#common/auth.js';
import { groupsOf } from './line-batches.js';
import { deletionOf, streamFilter } from './log-access.js';
import { LogAccess } from './log-access.service.js';
import { LiveTails } from './live-tails.service.js';
import { LogStore } from './log-store.service.js';
import { endOf, type LogStream } from './log-stream.entity.js';

/** How long a tail waits for a just-accepted run's log to be registered. */
const REGISTRATION_WAIT_MS = 3000;
/** Lines and bytes per message sent: gRPC refuses messages over 4 MiB, and a line can be 256 KiB. */
const MAX_MESSAGE_LINES = 10_000;
const MAX_MESSAGE_BYTES = 1024 * 1024;
/** How long a tail waits for missing lines (produced before it subscribed, or redelivered) to reach the store. */
const GAP_WAIT_MS = 5000;
/** How often it looks in the store meanwhile. */
const STORE_POLL_MS = 50;
/** A tail with no live output for this long looks in the store (e.g. for a completion it missed). */
const IDLE_CHECK_MS = 2000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const lastSequenceOf = (lines: OutputLine[]) => lines.reduce((max, l) => Math.max(max, l.sequence), 0);

@Controller()
export class LogsGrpcController implements Pick<LoggingServiceController, 'getLog' | 'readLog' | 'tailLog'> {
  constructor(
    private readonly store: LogStore,
    private readonly live: LiveTails,
    private readonly access: LogAccess,
  ) {}

  @GrpcMethod('LoggingService', 'getLog')
  getLog(request: GetLogRequest, metadata?: Metadata): Promise<LogChunk> {
    return this.readLog({ ...request, streams: [] }, metadata);
  }

  @GrpcMethod('LoggingService', 'readLog')
  async readLog(request: ReadLogRequest, metadata?: Metadata): Promise<LogChunk> {
    const streams = streamFilter(request.streams);
    const stream = await this.access.readableStream(callerOf(metadata), request.executionId, 0);
    const deletion = deletionOf(stream);
    if (deletion) return { executionId: request.executionId, lines: [], complete: true, throughSequence: request.afterSequence, deletion };
    const limit = request.limit > 0 ? Math.min(request.limit, MAX_MESSAGE_LINES) : MAX_MESSAGE_LINES;
    const { lines, through } = await this.store.read(request.executionId, request.afterSequence, { limit, maxBytes: MAX_MESSAGE_BYTES, throughHoles: stream.complete, streams });
    return { executionId: request.executionId, lines, complete: stream.complete && through >= endOf(stream), throughSequence: through, deletion: undefined };
  }

  /**
   * Replays stored lines after `afterSequence`, then forwards output as it is
   * produced, before it is stored, so a line reaches the client without waiting for
   * the database. Lines leave strictly by sequence: a live batch that starts past the
   * next line to send means lines are still on their way to the store (produced before
   * the subscription, or redelivered): they are read from memory or the store first,
   * waiting up to GAP_WAIT_MS; until they come, nothing after them is sent (the store is
   * read again when idle). `complete` is sent once the log is complete and its last line
   * was sent. Every line is sent once, in order, with no gap.
   */
  @GrpcMethod('LoggingService', 'tailLog')
  tailLog(request: TailLogRequest, metadata?: Metadata): Observable<LogChunk> {
    const caller = callerOf(metadata);
    const { executionId } = request;
    return new Observable<LogChunk>((observer) => {
      let lastSent = request.afterSequence;
      let done = false;
      let idleTimer: NodeJS.Timeout | undefined;
      /** Since when the live feed is ahead of the lines sent (undefined: it is not). */
      let behindSince: number | undefined;
      /** The highest sequence seen on the live feed. */
      let liveHigh = 0;

      /** Sends the lines that follow the last one sent (past holes only for a complete log), in messages bounded by bytes. */
      const send = (lines: OutputLine[], throughHoles = false) => {
        if (done) return;
        const next: OutputLine[] = [];
        let expected = lastSent + 1;
        for (const line of [...lines].sort((a, b) => a.sequence - b.sequence)) {
          if (line.sequence < expected) continue;
          if (line.sequence > expected && !throughHoles) break;
          next.push(line);
          expected = line.sequence + 1;
        }
        if (!next.length) return;
        lastSent = next.at(-1)!.sequence;
        for (const group of groupsOf(next, MAX_MESSAGE_LINES, MAX_MESSAGE_BYTES)) observer.next({ executionId, lines: group, complete: false, throughSequence: group.at(-1)!.sequence, deletion: undefined });
      };
      const finish = (complete: boolean) => {
        if (done) return;
        observer.next({ executionId, lines: [], complete, throughSequence: lastSent, deletion: undefined });
        done = true;
        observer.complete();
      };
      const replay = async (upTo: number, throughHoles: boolean) => {
        while (!done && lastSent < upTo) {
          const before = lastSent;
          const { lines } = await this.store.read(executionId, lastSent, { limit: Math.min(MAX_MESSAGE_LINES, upTo - lastSent), maxBytes: MAX_MESSAGE_BYTES, throughHoles });
          send(lines.filter((l) => l.sequence <= upTo), throughHoles);
          if (lastSent === before) return;
        }
      };
      /** Sends what the store has; true (and the tail ends) when that was the whole of a complete log. */
      const catchUp = async (): Promise<boolean> => {
        const stream = await this.store.findStream(executionId);
        const complete = stream?.complete ?? false;
        await replay(Number.MAX_SAFE_INTEGER, complete);
        if (!complete || lastSent < endOf(stream!)) return false;
        finish(true);
        return true;
      };
      // Missing lines: memory first, then the store, until they come or the wait is over.
      const fillGap = async (lines: OutputLine[], upTo: number) => {
        const remembered = this.live.recentLines(executionId, lastSent, upTo);
        if (remembered) send(remembered);
        send(lines);
        behindSince ??= Date.now();
        const deadline = behindSince + GAP_WAIT_MS;
        while (!done && lastSent < upTo) {
          await replay(upTo, false);
          send(lines);
          if (Date.now() >= deadline) return;
          if (lastSent < upTo) await sleep(STORE_POLL_MS);
        }
      };
      // The live final event may arrive before its lines (or the completion) are stored.
      const finishWhenStored = async () => {
        const deadline = Date.now() + GAP_WAIT_MS;
        while (!done && !(await catchUp()) && Date.now() < deadline) await sleep(STORE_POLL_MS);
      };
      // Completion announced before the subscription is only in the store: look there when idle.
      const checkStoreWhenIdle = () => {
        clearTimeout(idleTimer);
        if (!done) idleTimer = setTimeout(() => enqueue(catchUpFromStore), IDLE_CHECK_MS);
      };
      const catchUpFromStore = async () => {
        if (await catchUp()) return;
        if (!request.follow) finish(false);
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
      enqueue(async () => {
        const deletion = deletionOf(await this.access.readableStream(caller, executionId, request.follow ? REGISTRATION_WAIT_MS : 0));
        if (!deletion) return;
        observer.next({ executionId, lines: [], complete: true, throughSequence: lastSent, deletion });
        done = true;
        observer.complete();
      });
      const liveSubscription = request.follow
        ? this.live.follow(executionId).subscribe((event) =>
            enqueue(async () => {
              send(event.lines);
              // Lines seen live earlier but held back behind a hole are due as soon as it fills.
              const upTo = (liveHigh = Math.max(liveHigh, lastSequenceOf(event.lines)));
              if (lastSent < upTo) await fillGap(event.lines, upTo);
              if (lastSent >= upTo) behindSince = undefined;
              if (event.final) await finishWhenStored();
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
}
