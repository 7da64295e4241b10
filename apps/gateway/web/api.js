// Session (token pair in sessionStorage) and the REST client with refresh-and-retry-once.

const STORAGE_KEY = 'scriptorium.session';
/** Refresh this long before the access token expires. */
const REFRESH_MARGIN_MS = 60_000;

export class ApiError extends Error {
  constructor(status, body) {
    super((body && typeof body.message === 'string' && body.message) || `Request failed (${status})`);
    this.status = status;
    this.body = body ?? {};
  }
}

let session = load();
let refreshing = null;
let refreshTimer = null;
const listeners = new Set();

function load() {
  try {
    const raw = sessionStorage.getItem(STORAGE_KEY);
    return raw ? JSON.parse(raw) : null;
  } catch {
    return null;
  }
}

function save(next) {
  session = next;
  if (next) sessionStorage.setItem(STORAGE_KEY, JSON.stringify(next));
  else sessionStorage.removeItem(STORAGE_KEY);
  scheduleRefresh();
  for (const listener of listeners) listener(session);
}

function fromTokenResponse(body, previousUser) {
  return {
    accessToken: body.accessToken,
    refreshToken: body.refreshToken,
    expiresAt: Date.now() + (Number(body.expiresIn) || 900) * 1000,
    user: body.user ?? previousUser ?? null,
  };
}

function scheduleRefresh() {
  clearTimeout(refreshTimer);
  refreshTimer = null;
  if (!session) return;
  const delay = Math.max(0, session.expiresAt - Date.now() - REFRESH_MARGIN_MS);
  refreshTimer = setTimeout(() => refresh().catch(() => undefined), delay);
}

export function currentSession() {
  return session;
}

export function onSessionChange(listener) {
  listeners.add(listener);
}

export function setUser(user) {
  if (session) save({ ...session, user });
}

async function parse(res) {
  if (res.status === 204) return null;
  const type = res.headers.get('content-type') ?? '';
  if (type.includes('application/json')) return res.json();
  return res.text();
}

export async function login(username, password) {
  const res = await fetch('/api/v1/auth/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  const body = await parse(res).catch(() => null);
  if (!res.ok) throw new ApiError(res.status, body);
  save(fromTokenResponse(body));
  return session;
}

/** Rotates the token pair; concurrent callers share one request. */
export function refresh() {
  if (!session) return Promise.reject(new ApiError(401, { message: 'Not signed in' }));
  if (refreshing) return refreshing;
  const refreshToken = session.refreshToken;
  refreshing = (async () => {
    try {
      const res = await fetch('/api/v1/auth/refresh', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ refreshToken }),
      });
      const body = await parse(res).catch(() => null);
      if (!res.ok) {
        // Another tab or request may have rotated it already; only a rejected token ends the session.
        if (res.status === 401 || res.status === 403) save(null);
        throw new ApiError(res.status, body);
      }
      save(fromTokenResponse(body, session?.user));
      return session;
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

/** An access token that is valid for a while yet (refreshing first when close to expiry). */
export async function freshAccessToken() {
  if (!session) throw new ApiError(401, { message: 'Not signed in' });
  if (session.expiresAt - Date.now() < REFRESH_MARGIN_MS / 2) await refresh();
  return session.accessToken;
}

export async function logout() {
  const current = session;
  save(null);
  if (!current) return;
  try {
    await fetch('/api/v1/auth/logout', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${current.accessToken}` },
      body: JSON.stringify({ refreshToken: current.refreshToken }),
    });
  } catch {
    // Signing out locally is what matters.
  }
}

/**
 * Calls the API with the bearer token; on a 401 refreshes once and retries.
 * Returns the parsed body (JSON or text), or the Response itself with `raw: true`.
 */
export async function api(path, { method = 'GET', body, rawBody, headers = {}, raw = false } = {}) {
  const send = async () => {
    const token = await freshAccessToken();
    const init = { method, headers: { ...headers, authorization: `Bearer ${token}` } };
    if (rawBody !== undefined) {
      // File uploads: the bytes as they are.
      init.headers['content-type'] = 'application/octet-stream';
      init.body = rawBody;
    } else if (body !== undefined) {
      init.headers['content-type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    return fetch(path, init);
  };
  let res = await send();
  if (res.status === 401 && session) {
    await refresh();
    res = await send();
  }
  if (!res.ok) {
    const errorBody = await parse(res).catch(() => null);
    if (res.status === 401) save(null);
    throw new ApiError(res.status, typeof errorBody === 'object' ? errorBody : { message: String(errorBody ?? '') });
  }
  return raw ? res : parse(res);
}

/** Fetches `path` with the bearer token and saves the answer as a file named `filename`. */
export async function download(path, filename) {
  const res = await api(path, { raw: true });
  const blob = await res.blob();
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

export function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

scheduleRefresh();
