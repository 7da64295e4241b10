// Follows one run's live stream over the gateway's WebSocket, resuming after the last sequence
// seen, so every line reaches the page exactly once and in order.
import { freshAccessToken, refresh } from './api.js';
import type { Execution, LogLine } from './schemas.js';

const MAX_BACKOFF_MS = 5000;
export type StreamStatus = 'connecting' | 'live' | 'reconnecting' | 'ended' | 'error';

export interface StreamHandlers {
  onLines(lines: LogLine[]): void;
  onExecution(execution: Execution): void;
  onEnd?(): void;
  onStatus?(status: StreamStatus, message?: string): void;
}

export function followRun(executionId: string, handlers: StreamHandlers) {
  let lastSequence = 0;
  let socket: WebSocket | null = null;
  let stopped = false;
  let ended = false;
  let attempt = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let authRetried = false;

  const connect = async () => {
    if (stopped) return;
    let token: string;
    try {
      token = await freshAccessToken();
    } catch {
      handlers.onStatus?.('error');
      return;
    }
    if (stopped) return;
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const ws = new WebSocket(`${scheme}://${location.host}/api/v1/executions/${encodeURIComponent(executionId)}/stream?after=${lastSequence}`, ['scriptorium.v1', `bearer.${token}`]);
    socket = ws;
    let opened = false;
    ws.onopen = () => {
      opened = true;
      attempt = 0;
      authRetried = false;
      handlers.onStatus?.('live');
    };
    ws.onmessage = (event) => {
      let message: { type?: string; lines?: LogLine[]; execution?: Execution; status?: number; message?: string };
      try {
        message = JSON.parse(String(event.data));
      } catch {
        return;
      }
      if (message.type === 'lines') {
        // Never show a line twice, even if a resumed stream repeats one.
        const fresh = (message.lines ?? []).filter((l) => l.sequence > lastSequence);
        if (fresh.length) {
          lastSequence = fresh[fresh.length - 1].sequence;
          handlers.onLines(fresh);
        }
      } else if (message.type === 'execution' && message.execution) handlers.onExecution(message.execution);
      else if (message.type === 'end') ended = true;
      else if (message.type === 'error' && (message.status === 404 || message.status === 403)) {
        ended = true;
        handlers.onStatus?.('error', message.message);
      }
    };
    ws.onclose = async (event) => {
      if (socket === ws) socket = null;
      if (stopped) return;
      if (ended) {
        handlers.onStatus?.('ended');
        handlers.onEnd?.();
        return;
      }
      // 4401 (or a refused upgrade before opening): the token may have expired; refresh once.
      if ((event.code === 4401 || !opened) && !authRetried) {
        authRetried = true;
        await refresh().catch(() => undefined); // the API layer signs out if the refresh token is gone
      }
      handlers.onStatus?.('reconnecting');
      timer = setTimeout(connect, Math.min(MAX_BACKOFF_MS, 250 * 2 ** attempt++));
    };
  };

  void connect();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
      socket?.close(1000, 'leaving');
    },
  };
}
