import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { Injectable } from '@nestjs/common';
import passport from 'passport';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Caller } from '#common/auth.js';
import { grpcErrorToHttp } from '#common/errors.js';
import { isUuid } from '#common/ids.js';
import { rootLogger } from '#common/logger.js';
import { REQUEST_ID_HEADER, requestIdFrom, runWithRequestId, setRequestCaller } from '#common/request-context.js';
import { executionNotFound } from '../executions/execution-id.pipe.js';
import { KEEPALIVE_MS, LiveRunStream } from './live-run-stream.js';

const PATH = /^\/api\/v1\/executions\/([^/?]+)\/stream(?:\?|$)/;
const PROTOCOL = 'scriptorium.v1';

/**
 * WebSocket live streams at /api/v1/executions/:id/stream?after=N. Browsers cannot
 * set headers on a WebSocket, so the token travels as a subprotocol
 * (`bearer.<token>`) beside `scriptorium.v1`; it is checked by the same passport
 * strategy as every HTTP request.
 */
@Injectable()
export class LiveSocketServer {
  private readonly wss = new WebSocketServer({ noServer: true, handleProtocols: (protocols) => (protocols.has(PROTOCOL) ? PROTOCOL : false) });

  constructor(private readonly live: LiveRunStream) {}

  attach(server: Server) {
    server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      const match = PATH.exec(request.url ?? '');
      if (!match) return; // Other upgrade handlers (the session proxy) may take it.
      const bearer = (request.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim()).find((p) => p.startsWith('bearer.'));
      if (bearer) request.headers.authorization = `Bearer ${bearer.slice('bearer.'.length)}`;
      // Upgrades bypass the HTTP middleware: the stream gets its request id here, for its gRPC calls.
      runWithRequestId(requestIdFrom(request.headers[REQUEST_ID_HEADER]), () =>
        passport.authenticate('jwt', { session: false }, (error: unknown, caller: Caller | false) => {
          if (error || !caller) return reject(socket, 401, 'Invalid or missing access token');
          setRequestCaller(caller.userId);
          this.wss.handleUpgrade(request, socket, head, (ws) => this.serve(ws, caller, decodeURIComponent(match[1]), request));
        })(request, {}, () => undefined),
      );
    });
  }

  private serve(ws: WebSocket, caller: Caller, executionId: string, request: IncomingMessage) {
    if (!isUuid(executionId)) return closeWithError(ws, 404, executionNotFound(executionId));
    const after = Number(new URL(request.url ?? '', 'http://x').searchParams.get('after') ?? 0);
    const keepalive = setInterval(() => ws.ping(), KEEPALIVE_MS);
    const subscription = this.live.events(caller, executionId, Number.isFinite(after) && after > 0 ? after : 0).subscribe({
      next: (event) => ws.send(JSON.stringify(event)),
      error: (error) => {
        const mapped = grpcErrorToHttp(error);
        if (!mapped) rootLogger().error({ err: error }, 'live stream failed');
        closeWithError(ws, mapped?.status ?? 500, mapped?.body.message ?? 'Internal error');
      },
      complete: () => ws.close(1000, 'end'),
    });
    ws.on('close', () => {
      clearInterval(keepalive);
      subscription.unsubscribe();
    });
  }
}

/** An error frame, then a close whose code says the HTTP status (4000 + status for the client's fault, 1011 for ours). */
function closeWithError(ws: WebSocket, status: number, message: string) {
  ws.send(JSON.stringify({ type: 'error', status, message }));
  // A close reason is at most 123 bytes.
  ws.close(status < 500 ? 4000 + status : 1011, Buffer.from(message).subarray(0, 120).toString());
}

function reject(socket: Duplex, status: number, message: string) {
  socket.end(`HTTP/1.1 ${status} Unauthorized\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n${message}`);
}
