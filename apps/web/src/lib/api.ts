// Session (token pair in sessionStorage) and the REST client with refresh-and-retry-once.
import type { User } from './schemas.js';

const STORAGE_KEY = 'scriptorium.session';
/** Refresh this long before the access token expires. */
const REFRESH_MARGIN_MS = 60_000;

export interface ErrorBody {
  message?: string;
  fields?: Record<string, string>;
  [key: string]: unknown;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: ErrorBody = {},
  ) {
    super((typeof body.message === 'string' && body.message) || `HTTP ${status}`);
  }
}

export interface SessionState {
  accessToken: string;
  refreshToken: string;
  expiresAt: number;
  user: User | null;
}

interface TokenAnswer {
  accessToken: string;
  refreshToken: string;
  expiresIn?: number;
  user?: User;
}

let session: SessionState | null = load();
let refreshing: Promise<SessionState> | null = null;
let refreshTimer: ReturnType<typeof setTimeout> | undefined;
const listeners = new Set<(s: SessionState | null) => void>();

function load(): SessionState | null {
  try {
    const raw = sessionStorage.getItem(STORAGE_KEY);
    return raw ? (JSON.parse(raw) as SessionState) : null;
  } catch {
    return null;
  }
}

function save(next: SessionState | null) {
  session = next;
  if (next) sessionStorage.setItem(STORAGE_KEY, JSON.stringify(next));
  else sessionStorage.removeItem(STORAGE_KEY);
  scheduleRefresh();
  for (const listener of listeners) listener(session);
}

const fromTokenAnswer = (body: TokenAnswer, previousUser?: User | null): SessionState => ({
  accessToken: body.accessToken,
  refreshToken: body.refreshToken,
  expiresAt: Date.now() + (Number(body.expiresIn) || 900) * 1000,
  user: body.user ?? previousUser ?? null,
});

function scheduleRefresh() {
  clearTimeout(refreshTimer);
  if (!session) return;
  const delay = Math.max(0, session.expiresAt - Date.now() - REFRESH_MARGIN_MS);
  refreshTimer = setTimeout(() => refresh().catch(() => undefined), delay);
}

export const currentSession = () => session;

export function onSessionChange(listener: (s: SessionState | null) => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function setUser(user: User) {
  if (session) save({ ...session, user });
}

async function parse(res: Response): Promise<unknown> {
  if (res.status === 204) return null;
  const type = res.headers.get('content-type') ?? '';
  return type.includes('application/json') ? res.json() : res.text();
}

const asErrorBody = (body: unknown): ErrorBody => (body && typeof body === 'object' ? (body as ErrorBody) : { message: String(body ?? '') });

export async function login(username: string, password: string): Promise<SessionState> {
  const res = await fetch('/api/v1/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
  const body = await parse(res).catch(() => null);
  if (!res.ok) throw new ApiError(res.status, asErrorBody(body));
  save(fromTokenAnswer(body as TokenAnswer));
  return session!;
}

/** Rotates the token pair; concurrent callers share one request. */
export function refresh(): Promise<SessionState> {
  if (!session) return Promise.reject(new ApiError(401, { message: 'Not signed in' }));
  if (refreshing) return refreshing;
  const refreshToken = session.refreshToken;
  refreshing = (async () => {
    try {
      const res = await fetch('/api/v1/auth/refresh', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refreshToken }) });
      const body = await parse(res).catch(() => null);
      if (!res.ok) {
        // Another tab or request may have rotated it already; only a rejected token ends the session.
        if (res.status === 401 || res.status === 403) save(null);
        throw new ApiError(res.status, asErrorBody(body));
      }
      save(fromTokenAnswer(body as TokenAnswer, session?.user));
      return session!;
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

/** An access token that is valid for a while yet (refreshing first when close to expiry). */
export async function freshAccessToken(): Promise<string> {
  if (!session) throw new ApiError(401, { message: 'Not signed in' });
  if (session.expiresAt - Date.now() < REFRESH_MARGIN_MS / 2) await refresh();
  return session!.accessToken;
}

export async function logout() {
  const current = session;
  save(null);
  if (!current) return;
  await fetch('/api/v1/auth/logout', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${current.accessToken}` },
    body: JSON.stringify({ refreshToken: current.refreshToken }),
  }).catch(() => undefined); // signing out locally is what matters
}

export interface RequestOptions {
  method?: string;
  body?: unknown;
  rawBody?: Blob;
  headers?: Record<string, string>;
}

async function send(path: string, { method = 'GET', body, rawBody, headers = {} }: RequestOptions): Promise<Response> {
  const attempt = async () => {
    const init: RequestInit & { headers: Record<string, string> } = { method, headers: { ...headers, authorization: `Bearer ${await freshAccessToken()}` } };
    if (rawBody !== undefined) {
      init.headers['content-type'] = 'application/octet-stream'; // file uploads: the bytes as they are
      init.body = rawBody;
    } else if (body !== undefined) {
      init.headers['content-type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    return fetch(path, init);
  };
  let res = await attempt();
  if (res.status === 401 && session) {
    await refresh();
    res = await attempt();
  }
  if (!res.ok) {
    const errorBody = await parse(res).catch(() => null);
    if (res.status === 401) save(null);
    throw new ApiError(res.status, asErrorBody(errorBody));
  }
  return res;
}

/** Calls the API with the bearer token; on a 401 refreshes once and retries. */
export async function api<T>(path: string, options: RequestOptions = {}): Promise<T> {
  return (await parse(await send(path, options))) as T;
}

/** Fetches `path` with the bearer token and saves the answer as a file named `filename`. */
export async function download(path: string, filename: string) {
  saveBlob(await (await send(path, {})).blob(), filename);
}

export function saveBlob(blob: Blob, filename: string) {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  link.hidden = true;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** A query string from the defined values of `params`. */
export function query(params: Record<string, string | number | boolean | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const text = q.toString();
  return text ? `?${text}` : '';
}

export const enc = encodeURIComponent;

scheduleRefresh();
