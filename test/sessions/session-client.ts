import { readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import WebSocket from 'ws';
import type { Api } from '../harness/api.js';
import { waitFor } from '../harness/net.js';

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json<T = any>(): T;
}

/**
 * Requests to a session host. Node does not resolve `*.localhost` names (browsers do), so
 * the request goes to the gateway's loopback address with the session's Host header.
 */
export class SessionClient {
  readonly host: string;
  readonly port: number;

  constructor(
    gatewayUrl: string,
    readonly sessionUrl: string,
  ) {
    this.host = new URL(sessionUrl).host;
    this.port = Number(new URL(gatewayUrl).port);
  }

  request(path: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<RawResponse> {
    return new Promise((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port: this.port, path, method: options.method ?? 'GET', headers: { host: this.host, ...options.headers } },
        (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (chunk) => (text += chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) }));
        },
      );
      req.on('error', reject);
      req.end(options.body);
    });
  }

  /** Redeems an entry URL; returns the response (a 302 with the cookie when valid). */
  enter(entryUrl: string) {
    const url = new URL(entryUrl);
    if (url.host !== this.host) throw new Error(`entry URL ${entryUrl} is not on ${this.host}`);
    return this.request(`${url.pathname}${url.search}`);
  }

  /** `name=value` of the session cookie set by a redeemed entry. */
  static cookieOf(response: RawResponse): string {
    const setCookie = [response.headers['set-cookie'] ?? []].flat()[0];
    if (!setCookie) throw new Error(`no Set-Cookie in ${response.status} ${response.text}`);
    return setCookie.split(';')[0];
  }

  /** Waits until the script answers through the proxy (it may still be starting). */
  waitReady(cookie: string) {
    return waitFor(async () => {
      const res = await this.request('/', { headers: { cookie } });
      return res.status === 200 ? res : undefined;
    }, 15_000, `session ${this.host} to answer`);
  }

  websocket(path: string, headers: Record<string, string>) {
    return new WebSocket(`ws://127.0.0.1:${this.port}${path}`, { headers: { host: this.host, ...headers } });
  }
}

/** Starts the interactive fixture and returns its run and its session (as the REST API shows it). */
export async function startSession(api: Api, parameters: Record<string, unknown> = {}) {
  const run = await api.run('sessions/echo_page.py', parameters);
  const list = await api.get(`/api/v1/sessions?executionId=${run.id}`);
  if (list.status !== 200 || list.body.items.length !== 1) throw new Error(`no session for run ${run.id}: ${list.status} ${JSON.stringify(list.body)}`);
  return { run, session: list.body.items[0] };
}

/** Mints an entry link, enters, and returns a client with the session cookie once the page answers. */
export async function enterSession(api: Api, session: { id: string; url: string }) {
  const entry = await api.post(`/api/v1/sessions/${session.id}/entry`);
  if (entry.status !== 201) throw new Error(`entry answered ${entry.status}: ${JSON.stringify(entry.body)}`);
  const client = new SessionClient(api.url, session.url);
  const entered = await client.enter(entry.body.url);
  if (entered.status !== 302) throw new Error(`enter answered ${entered.status}: ${entered.text}`);
  const cookie = SessionClient.cookieOf(entered);
  await client.waitReady(cookie);
  return { client, cookie, entered };
}

/** Heartbeats a session every `everyMs` until stopped (what the browser tab does). */
export function keepAlive(api: Api, sessionId: string, everyMs = 700) {
  const timer = setInterval(() => void api.post(`/api/v1/sessions/${sessionId}/heartbeat`).catch(() => undefined), everyMs);
  return () => clearInterval(timer);
}

/** The `--port` a run's script process was given, read from /proc (the platform never tells). */
export function scriptPortOf(executionId: string): number | undefined {
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      if (!readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`SCRIPTORIUM_EXECUTION_ID=${executionId}`)) continue;
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      const at = argv.indexOf('--port');
      if (at >= 0) return Number(argv[at + 1]);
    } catch {
      // gone, or not ours
    }
  }
  return undefined;
}
