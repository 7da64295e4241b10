import WebSocket from 'ws';
import type { LineMessage } from '../harness/api.js';

/**
 * A live viewer of one run that behaves as the web UI does: when its stream drops before the
 * `end` event it reconnects (every 250 ms while the gateway is away) and resumes after the last
 * sequence it saw — `?after=N` on the WebSocket, `Last-Event-ID: N` on SSE. Every line it ever
 * received is kept, in arrival order, so the accounting sees doubles and gaps across resumes.
 */
export interface LiveViewer {
  kind: 'ws' | 'sse';
  lines: LineMessage[];
  ended: boolean;
  reconnects: number;
  /** Last connection problem, for failure messages. */
  lastError: string;
  /** Resolves once `end` arrived, or when stopped. */
  done: Promise<void>;
  stop(): void;
}

const RETRY_MS = 250;

export function watch(kind: 'ws' | 'sse', url: string, token: string, executionId: string): LiveViewer {
  let stopped = false;
  let finish!: () => void;
  let closeCurrent = () => undefined as void;
  const viewer: LiveViewer = {
    kind,
    lines: [],
    ended: false,
    reconnects: -1,
    lastError: '',
    done: new Promise<void>((r) => (finish = r)),
    stop() {
      stopped = true;
      closeCurrent();
      finish();
    },
  };
  const lastSequence = () => viewer.lines.at(-1)?.sequence ?? 0;
  const onEvent = (event: { type: string; lines?: LineMessage[]; message?: string }) => {
    if (event.type === 'lines') viewer.lines.push(...event.lines!);
    else if (event.type === 'end') viewer.ended = true;
    else if (event.type === 'error') viewer.lastError = `error event: ${event.message}`;
  };
  const again = () => {
    if (viewer.ended || stopped) return finish();
    setTimeout(connect, RETRY_MS);
  };
  const connect = () => {
    if (stopped) return;
    viewer.reconnects++;
    if (kind === 'ws') {
      const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/api/v1/executions/${executionId}/stream?after=${lastSequence()}`, ['scriptorium.v1', `bearer.${token}`]);
      closeCurrent = () => ws.terminate();
      ws.on('message', (data) => onEvent(JSON.parse(String(data))));
      ws.on('error', (error) => (viewer.lastError = error.message));
      ws.on('close', again);
    } else {
      const controller = new AbortController();
      closeCurrent = () => controller.abort();
      void readSse(`${url}/api/v1/executions/${executionId}/events`, { authorization: `Bearer ${token}`, 'last-event-id': String(lastSequence()) }, controller.signal, onEvent)
        .catch((error: Error) => (viewer.lastError = error.message))
        .finally(again);
    }
  };
  connect();
  return viewer;
}

/** Reads a Server-Sent Events response until it ends, handing each event's parsed data to `onEvent`. */
async function readSse(url: string, headers: Record<string, string>, signal: AbortSignal, onEvent: (event: any) => void) {
  const res = await fetch(url, { headers, signal });
  if (!res.ok || !res.body) throw new Error(`SSE answered ${res.status}`);
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of res.body) {
    buffer += decoder.decode(chunk as Uint8Array, { stream: true });
    let cut: number;
    while ((cut = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const data = block.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
      if (data) onEvent(JSON.parse(data));
    }
  }
}
