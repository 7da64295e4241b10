import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { Injectable } from '@nestjs/common';
import passport from 'passport';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Caller } from '#common/auth.js';
import { grpcErrorToHttp } from '#common/errors.js';
import { rootLogger } from '#common/logger.js';
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
      passport.authenticate('jwt', { session: false }, (error: unknown, caller: Caller | false) => {
        if (error || !caller) return reject(socket, 401, 'Invalid or missing access token');
        this.wss.handleUpgrade(request, socket, head, (ws) => this.serve(ws, caller, decodeURIComponent(match[1]), request));
      })(request, {}, () => undefined);
    });
  }

  private serve(ws: WebSocket, caller: Caller, executionId: string, request: IncomingMessage) {
    const after = Number(new URL(request.url ?? '', 'http://x').searchParams.get('after') ?? 0);
    const keepalive = setInterval(() => ws.ping(), KEEPALIVE_MS);
    const subscription = this.live.events(caller, executionId, Number.isFinite(after) && after > 0 ? after : 0).subscribe({
      next: (event) => ws.send(JSON.stringify(event)),
      error: (error) => {
        const mapped = grpcErrorToHttp(error);
        if (!mapped) rootLogger().error({ err: error }, 'live stream failed');
        ws.send(JSON.stringify({ type: 'error', status: mapped?.status ?? 500, message: mapped?.body.message ?? 'Internal error' }));
        ws.close(mapped && mapped.status < 500 ? 4000 + mapped.status : 1011, mapped?.body.message.slice(0, 100));
      },
      complete: () => ws.close(1000, 'end'),
    });
    ws.on('close', () => {
      clearInterval(keepalive);
      subscription.unsubscribe();
    });
  }
}

function reject(socket: Duplex, status: number, message: string) {
  socket.end(`HTTP/1.1 ${status} Unauthorized\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n${message}`);
}
