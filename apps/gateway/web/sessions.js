// Interactive sessions: the panel on an interactive run's page, "My sessions", and heartbeats.
// A session is opened with a one-time entry link on its own host; its URL and port are never shown.
import { api } from './api.js';
import { formatTime, h } from './dom.js';
import { t } from './i18n.js';

export const HEARTBEAT_MS = 30_000;
const TRACKED_KEY = 'scriptorium.openedSessions';

// ---------------------------------------------------------------- heartbeats

/**
 * Sessions this tab keeps alive: the one shown on the run view, and the ones opened from this tab
 * (their own tab is on another origin, so this one speaks for it until the session closes).
 */
const watched = new Map(); // id -> number of holders
let timer = null;

function tracked() {
  try {
    return new Set(JSON.parse(sessionStorage.getItem(TRACKED_KEY) ?? '[]'));
  } catch {
    return new Set();
  }
}

function saveTracked(set) {
  sessionStorage.setItem(TRACKED_KEY, JSON.stringify([...set]));
}

function untrack(id) {
  const set = tracked();
  if (set.delete(id)) saveTracked(set);
}

const listeners = new Set();

/** Sends one heartbeat for `id`; forgets the session once it is closed or gone. */
export async function heartbeat(id) {
  try {
    const session = await api(`/api/v1/sessions/${encodeURIComponent(id)}/heartbeat`, { method: 'POST' });
    if (session?.state !== 'open') untrack(id);
    for (const listener of listeners) listener(session);
    return session;
  } catch (error) {
    if (error.status === 404 || error.status === 409 || error.status === 400 || error.status === 412) untrack(id);
    return null;
  }
}

function beatAll() {
  const ids = new Set([...watched.keys(), ...tracked()]);
  for (const id of ids) heartbeat(id);
}

function ensureTimer() {
  const needed = watched.size > 0 || tracked().size > 0;
  if (needed && !timer) timer = setInterval(beatAll, HEARTBEAT_MS);
  if (!needed && timer) {
    clearInterval(timer);
    timer = null;
  }
}

document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') beatAll();
});

/** Keeps `id` alive while the caller holds it; returns release(). */
export function holdSession(id) {
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

/** Starts the background heartbeats for sessions opened from this tab earlier (after a reload). */
export function resumeHeartbeats() {
  ensureTimer();
  if (tracked().size) beatAll();
}

export function stopAllHeartbeats() {
  watched.clear();
  sessionStorage.removeItem(TRACKED_KEY);
  ensureTimer();
}

// ---------------------------------------------------------------- actions

/**
 * Opens the session's interface in a new tab through a one-time entry link. The tab is opened
 * at once (inside the click) so pop-up blockers allow it, then sent to the link.
 */
export async function openSession(id) {
  const entry = await api(`/api/v1/sessions/${encodeURIComponent(id)}/entry`, { method: 'POST' });
  const url = new URL(entry.url);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('Unexpected session address');
  const opened = window.open(url.href, '_blank', 'noopener,noreferrer');
  const set = tracked();
  set.add(id);
  saveTracked(set);
  ensureTimer();
  heartbeat(id);
  return opened;
}

export async function closeSession(id) {
  const session = await api(`/api/v1/sessions/${encodeURIComponent(id)}`, { method: 'DELETE' });
  untrack(id);
  ensureTimer();
  return session;
}

function sessionBadge(session) {
  const state = session?.state ?? 'unknown';
  return h('span', { class: `badge state session-${state}`, testid: 'session-state', dataset: { state } }, state);
}

// ---------------------------------------------------------------- run view panel

/**
 * The "Interactive session" card of a run: open the interface, close the session, heartbeats
 * while the run view is shown. Looks the session up by execution id; returns {element, refresh, stop}.
 */
export function sessionPanel(executionId) {
  const status = h('p', { class: 'muted small', testid: 'session-status' }, t('session.waiting'));
  const badge = h('span', { testid: 'session-state-slot' });
  const error = h('p', { class: 'banner banner-error small', role: 'alert', testid: 'session-error', hidden: true });
  const openButton = h('button', { type: 'button', class: 'btn btn-primary', testid: 'session-open', disabled: true }, t('session.open'));
  const closeButton = h('button', { type: 'button', class: 'btn btn-danger', testid: 'session-close', disabled: true }, t('session.close'));
  const element = h('section', { class: 'card session-card', testid: 'session-panel', hidden: true, 'aria-labelledby': 'session-h' },
    h('div', { class: 'card-head' }, h('h2', { id: 'session-h' }, t('session.title'), ' ', badge), h('div', { class: 'actions' }, openButton, closeButton)),
    status, error);

  let session = null;
  let release = null;
  let stopped = false;

  const show = (s) => {
    if (!s || s.executionId !== executionId) return;
    session = s;
    element.hidden = false;
    element.dataset.sessionId = s.id;
    badge.replaceChildren(sessionBadge(s));
    const open = s.state === 'open';
    openButton.disabled = !open;
    closeButton.disabled = !open;
    status.textContent = open
      ? s.idleDeadline ? t('session.idle', { t: formatTime(s.idleDeadline) }) : ''
      : `${t('session.closed')}${s.closedReason ? ` (${s.closedReason})` : ''}`;
    if (open && !release && !stopped) {
      release = holdSession(s.id);
      heartbeat(s.id);
    }
    if (!open && release) {
      release();
      release = null;
    }
  };
  listeners.add(show);

  const refresh = async () => {
    if (stopped) return;
    try {
      const answer = await api(`/api/v1/sessions?executionId=${encodeURIComponent(executionId)}`);
      const found = (answer.items ?? []).find((s) => s.state === 'open') ?? answer.items?.[0];
      if (found) show(found);
    } catch {
      /* not an interactive run, or not ours to see */
    }
  };

  openButton.addEventListener('click', async () => {
    if (!session) return;
    error.hidden = true;
    openButton.disabled = true;
    const label = openButton.textContent;
    openButton.textContent = t('session.opening');
    try {
      await openSession(session.id);
    } catch (e) {
      error.textContent = e.message;
      error.hidden = false;
    } finally {
      openButton.textContent = label;
      openButton.disabled = session?.state !== 'open';
    }
  });

  closeButton.addEventListener('click', async () => {
    if (!session) return;
    error.hidden = true;
    closeButton.disabled = true;
    try {
      show(await closeSession(session.id));
    } catch (e) {
      error.textContent = e.message;
      error.hidden = false;
      closeButton.disabled = false;
    }
  });

  return {
    element,
    refresh,
    get session() {
      return session;
    },
    stop() {
      stopped = true;
      listeners.delete(show);
      release?.();
      release = null;
    },
  };
}

// ---------------------------------------------------------------- My sessions

export async function renderSessions(root, stale, { showError }) {
  document.title = `${t('sessions.title')} · Scriptorium`;
  const showClosed = h('input', { type: 'checkbox', id: 'sessions-closed', testid: 'sessions-show-closed' });
  const list = h('ul', { class: 'session-list', testid: 'session-list' });
  const empty = h('p', { class: 'muted', testid: 'sessions-empty', hidden: true }, t('sessions.empty'));
  root.append(
    h('div', { class: 'page-head' }, h('h1', {}, t('sessions.title')),
      h('div', { class: 'check-row' }, showClosed, h('label', { for: 'sessions-closed' }, t('sessions.showClosed')))),
    list, empty);

  const releases = [];
  const load = async () => {
    const answer = await api(`/api/v1/sessions${showClosed.checked ? '?includeClosed=true' : ''}`);
    if (stale()) return;
    list.replaceChildren(...(answer.items ?? []).map((s) => sessionRow(s, load, showError)));
    empty.hidden = list.children.length > 0;
  };
  showClosed.addEventListener('change', () => load().catch(showError));
  await load();
  return () => releases.forEach((r) => r());
}

function sessionRow(s, reload, showError) {
  const open = s.state === 'open';
  const openButton = h('button', { type: 'button', class: 'btn btn-primary btn-small', testid: 'sessions-open', hidden: !open }, t('session.open'));
  const closeButton = h('button', { type: 'button', class: 'btn btn-danger btn-small', testid: 'sessions-close', hidden: !open }, t('session.close'));
  openButton.addEventListener('click', () => openSession(s.id).catch(showError));
  closeButton.addEventListener('click', async () => {
    closeButton.disabled = true;
    try {
      await closeSession(s.id);
      await reload();
    } catch (error) {
      showError(error);
      closeButton.disabled = false;
    }
  });
  return h('li', { class: 'card session-row', testid: 'session-row', dataset: { sessionId: s.id, executionId: s.executionId, state: s.state } },
    h('div', {},
      h('h2', {}, s.scriptName || s.scriptId, ' ', sessionBadge(s)),
      h('p', { class: 'meta muted small' },
        h('span', {}, `${t('sessions.created')}: ${formatTime(s.createdAt)}`),
        h('span', {}, `${t('sessions.lastSeen')}: ${formatTime(s.lastHeartbeatAt)}`),
        h('a', { href: `#/runs/${encodeURIComponent(s.executionId)}`, testid: 'sessions-run-link' }, t('sessions.run')))),
    h('div', { class: 'actions' }, openButton, closeButton));
}
