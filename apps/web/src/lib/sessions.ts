// Interactive sessions: heartbeats for the sessions this tab shows or opened, open and close.
// A session is opened with a one-time entry link on its own host; its URL and port are never shown.
import { api, enc } from './api.js';
import type { Session } from './schemas.js';

export const HEARTBEAT_MS = 30_000;
const TRACKED_KEY = 'scriptorium.openedSessions';

/** Sessions kept alive: the one on the run view, and the ones opened from this tab (their tab is on another origin). */
const watched = new Map<string, number>();
let timer: ReturnType<typeof setInterval> | null = null;
const listeners = new Set<(s: Session) => void>();

function tracked(): Set<string> {
  try {
    return new Set(JSON.parse(sessionStorage.getItem(TRACKED_KEY) ?? '[]') as string[]);
  } catch {
    return new Set();
  }
}
const saveTracked = (set: Set<string>) => sessionStorage.setItem(TRACKED_KEY, JSON.stringify([...set]));
function untrack(id: string) {
  const set = tracked();
  if (set.delete(id)) saveTracked(set);
}

export function onSessionUpdate(listener: (s: Session) => void) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Sends one heartbeat for `id`; forgets the session once it is closed or gone. */
export async function heartbeat(id: string): Promise<Session | null> {
  try {
    const session = await api<Session>(`/api/v1/sessions/${enc(id)}/heartbeat`, { method: 'POST' });
    if (session?.state !== 'open') untrack(id);
    for (const listener of listeners) listener(session);
    return session;
  } catch (error) {
    if ([400, 404, 409, 412].includes((error as { status?: number }).status ?? 0)) untrack(id);
    return null;
  }
}

function beatAll() {
  for (const id of new Set([...watched.keys(), ...tracked()])) void heartbeat(id);
}

function ensureTimer() {
  const needed = watched.size > 0 || tracked().size > 0;
  if (needed && !timer) timer = setInterval(beatAll, HEARTBEAT_MS);
  if (!needed && timer) {
    clearInterval(timer);
    timer = null;
  }
}

if (typeof document !== 'undefined')
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') beatAll();
  });

/** Keeps `id` alive while the caller holds it; returns release(). */
export function holdSession(id: string): () => void {
  watched.set(id, (watched.get(id) ?? 0) + 1);
  ensureTimer();
  let released = false;
  return () => {
    if (released) return;
    released = true;
    const n = (watched.get(id) ?? 1) - 1;
    if (n <= 0) watched.delete(id);
    else watched.set(id, n);
    ensureTimer();
  };
}

/** Heartbeats for sessions opened from this tab earlier (after a reload). */
export function resumeHeartbeats() {
  ensureTimer();
  if (tracked().size) beatAll();
}

export function stopAllHeartbeats() {
  watched.clear();
  sessionStorage.removeItem(TRACKED_KEY);
  ensureTimer();
}

/** Opens the session's interface in a new tab through a one-time entry link. */
export async function openSession(id: string) {
  const entry = await api<{ url: string }>(`/api/v1/sessions/${enc(id)}/entry`, { method: 'POST' });
  const url = new URL(entry.url);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('Unexpected session address');
  window.open(url.href, '_blank', 'noopener,noreferrer');
  const set = tracked();
  set.add(id);
  saveTracked(set);
  ensureTimer();
  void heartbeat(id);
}

export async function closeSession(id: string): Promise<Session> {
  const session = await api<Session>(`/api/v1/sessions/${enc(id)}`, { method: 'DELETE' });
  untrack(id);
  ensureTimer();
  return session;
}
