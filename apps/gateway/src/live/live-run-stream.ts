import { Injectable } from '@nestjs/common';
import { catchError, concat, map, merge, of, throwError, type Observable } from 'rxjs';
import type { LogLine } from '#contracts/generated/scriptorium/logging/v1/logging.js';
import type { Caller } from '#common/auth.js';
import { namePeerUnavailable } from '#common/errors.js';
import { callMetadata } from '#common/grpc.js';
import { executionView, type ExecutionView } from '../executions/execution-view.js';
import { ServiceClients } from '../service-clients.js';

export type LiveEvent =
  | { type: 'lines'; lines: LogLine[] }
  | { type: 'execution'; execution: ExecutionView }
  | { type: 'end' };

/** How often a live stream sends a keepalive, so proxies neither buffer nor cut it. */
export const KEEPALIVE_MS = 15_000;

/**
 * One run's live view: its state changes (from execution) merged with its log
 * lines after `afterSequence` (from logging), ending with `end` once both are done.
 * Each line carries its sequence, so a client reconnects with the last one it saw.
 */
@Injectable()
export class LiveRunStream {
  constructor(private readonly clients: ServiceClients) {}

  events(caller: Caller, executionId: string, afterSequence: number): Observable<LiveEvent> {
    const metadata = () => callMetadata(caller.authorization);
    const states = this.clients.execution
      .watchExecution({ executionId }, metadata())
      .pipe(
        map((execution): LiveEvent => ({ type: 'execution', execution: executionView(execution) })),
        catchError((error) => throwError(() => namePeerUnavailable(error, 'execution service'))),
      );
    const lines = this.clients.logging
      .tailLog({ executionId, afterSequence, follow: true }, metadata())
      .pipe(
        map((chunk): LiveEvent => ({ type: 'lines', lines: chunk.lines })),
        catchError((error) => throwError(() => namePeerUnavailable(error, 'logging service'))),
      );
    return concat(merge(states, lines), of<LiveEvent>({ type: 'end' }));
  }
}
