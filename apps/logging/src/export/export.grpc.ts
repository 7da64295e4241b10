import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import type { Metadata, ServerWritableStream } from '@grpc/grpc-js';
import { Observable } from 'rxjs';
import type { ExportChunk, ExportLogRequest, ExportLogsRequest, LoggingServiceController } from '#contracts/generated/scriptorium/logging/v1/logging.js';
import { callerOf } from '#common/auth.js';
import { ExportService, type Send } from './export.service.js';

/** The receiver went away: production stops. */
class Cancelled extends Error {}

/**
 * Turns a producer into the stream Nest writes to the call, pausing the producer while the
 * call's buffer is full (Nest buffers whatever an Observable emits, so the pace is set here).
 */
function paced(call: ServerWritableStream<unknown, ExportChunk> | undefined, produce: (send: Send) => Promise<void>): Observable<ExportChunk> {
  return new Observable<ExportChunk>((observer) => {
    let cancelled = false;
    const send: Send = async (chunk) => {
      if (cancelled) throw new Cancelled();
      observer.next(chunk);
      if (call?.writableNeedDrain) {
        await new Promise<void>((resume) => {
          const done = () => {
            call.off('drain', done);
            call.off('close', done);
            resume();
          };
          call.on('drain', done);
          call.on('close', done);
        });
      }
    };
    produce(send).then(
      () => observer.complete(),
      (error) => {
        if (!cancelled) observer.error(error);
      },
    );
    return () => {
      cancelled = true;
    };
  });
}

@Controller()
export class ExportGrpcController implements Pick<LoggingServiceController, 'exportLog' | 'exportLogs'> {
  constructor(private readonly exports: ExportService) {}

  @GrpcMethod('LoggingService', 'exportLog')
  exportLog(request: ExportLogRequest, metadata?: Metadata, call?: ServerWritableStream<ExportLogRequest, ExportChunk>): Observable<ExportChunk> {
    const caller = callerOf(metadata);
    return paced(call, (send) => this.exports.exportLog(caller, request, send));
  }

  @GrpcMethod('LoggingService', 'exportLogs')
  exportLogs(request: ExportLogsRequest, metadata?: Metadata, call?: ServerWritableStream<ExportLogsRequest, ExportChunk>): Observable<ExportChunk> {
    const caller = callerOf(metadata);
    return paced(call, (send) => this.exports.exportLogs(caller, request, send));
  }
}
