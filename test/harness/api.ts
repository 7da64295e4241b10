import WebSocket from 'ws';
import { waitFor } from './net.js';

export const FINAL_STATES = ['succeeded', 'failed', 'timed_out', 'cancelled', 'lost'];

export interface LineMessage {
  sequence: number;
  stream: string;
  text: string;
  timestamp: string;
}

/** A small REST client for tests: JSON in and out, bearer token, status kept. */
export class Api {
  constructor(
    readonly url: string,
    public token = '',
  ) {}

  async request<T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: T; headers: Headers }> {
    const res = await fetch(`${this.url}${path}`, {
      method,
      headers: {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // Plain text answer (e.g. a log download).
    }
    return { status: res.status, body: parsed as T, headers: res.headers };
  }

  get<T = any>(path: string) {
    return this.request<T>('GET', path);
  }
  post<T = any>(path: string, body?: unknown, headers?: Record<string, string>) {
    return this.request<T>('POST', path, body ?? {}, headers);
  }

  /** Runs a script and returns the accepted execution (throws unless 202). */
  async run(scriptId: string, parameters: Record<string, unknown> = {}): Promise<any> {
    const res = await this.post('/api/v1/executions', { scriptId, parameters });
    if (res.status !== 202) throw new Error(`run ${scriptId} answered ${res.status}: ${JSON.stringify(res.body)}`);
    return res.body;
  }

  /** Waits for a run to reach a final state and returns it. */
  finished(executionId: string, timeoutMs = 30_000, context = () => ''): Promise<any> {
    return waitFor(async () => {
      const run = (await this.get(`/api/v1/executions/${executionId}`)).body;
      return FINAL_STATES.includes(run?.state) ? run : undefined;
    }, timeoutMs, `run ${executionId} to end${context()}`);
  }

  /** Opens the live stream of a run; resolves when it ends or `stopAfterLines` lines arrived. */
  stream(
    executionId: string,
    options: { after?: number; stopAfterLines?: number; onLine?: (line: LineMessage, receivedAt: number) => void; onExecution?: (execution: any) => void } = {},
  ) {
    const wsUrl = `${this.url.replace(/^http/, 'ws')}/api/v1/executions/${executionId}/stream?after=${options.after ?? 0}`;
    const ws = new WebSocket(wsUrl, ['scriptorium.v1', `bearer.${this.token}`]);
    const lines: LineMessage[] = [];
    const executions: any[] = [];
    let ended = false;
    const done = new Promise<{ lines: LineMessage[]; executions: any[]; ended: boolean; closeCode: number }>((resolve, reject) => {
      ws.on('message', (data) => {
        const event = JSON.parse(String(data));
        if (event.type === 'lines') {
          for (const line of event.lines as LineMessage[]) {
            lines.push(line);
            options.onLine?.(line, Date.now());
          }
          if (options.stopAfterLines && lines.length >= options.stopAfterLines) ws.close();
        } else if (event.type === 'execution') {
          executions.push(event.execution);
          options.onExecution?.(event.execution);
        }
        else if (event.type === 'end') ended = true;
        else if (event.type === 'error') executions.push({ error: event });
      });
      ws.on('close', (code) => resolve({ lines, executions, ended, closeCode: code }));
      ws.on('error', reject);
    });
    return { ws, done };
  }
}
