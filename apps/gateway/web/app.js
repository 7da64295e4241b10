// Scriptorium web UI: login, catalog, parameter forms, runs and history. No build step, no dependencies.
import { ApiError, api, currentSession, login, logout, onSessionChange, setUser, uuid } from './api.js';
import { ACTIVE_STATES, clear, formatDuration, formatTime, h, stateBadge } from './dom.js';
import { parameterFields } from './params.js';
import { renderRun } from './run.js';

const $ = (testid) => document.querySelector(`[data-testid="${testid}"]`);
const loginView = $('login-view');
const appView = $('app-view');
const topbar = $('topbar');
const view = $('view');
const appError = $('app-error');
const announcer = $('announcer');

let cleanupView = null;
let renderToken = 0;

function announce(message) {
  announcer.textContent = '';
  setTimeout(() => (announcer.textContent = message), 50);
}

function language() {
  return currentSession()?.user?.language || 'en';
}

function applyTheme() {
  const theme = currentSession()?.user?.theme;
  const root = document.documentElement;
  if (theme === 'dark' || theme === 'light') root.dataset.theme = theme;
  else delete root.dataset.theme; // follow the system until we know the user's choice
  root.lang = language();
}

function showError(error) {
  if (!error) {
    appError.hidden = true;
    appError.textContent = '';
    return;
  }
  appError.textContent = error instanceof Error ? error.message : String(error);
  appError.hidden = false;
}

// ---------------------------------------------------------------- login

$('login-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const username = form.username.value.trim();
  const password = form.password.value;
  const errorEl = $('login-error');
  errorEl.hidden = true;
  if (!username || !password) {
    errorEl.textContent = 'Enter your username and password.';
    errorEl.hidden = false;
    return;
  }
  const submit = $('login-submit');
  submit.disabled = true;
  try {
    await login(username, password);
    form.password.value = '';
    if (!location.hash || location.hash === '#/login') location.hash = '#/';
    else route();
  } catch (error) {
    errorEl.textContent = error instanceof ApiError && error.status === 401 ? 'Wrong username or password.' : `Could not sign in: ${error.message}`;
    errorEl.hidden = false;
    form.password.focus();
  } finally {
    submit.disabled = false;
  }
});

$('logout').addEventListener('click', async () => {
  await logout();
  location.hash = '#/';
});

onSessionChange((session) => {
  applyTheme();
  if (!session) route();
});

// ---------------------------------------------------------------- router

function parseHash() {
  const parts = location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  if (parts[0] === 'runs' && parts[1]) return { name: 'run', id: parts[1] };
  if (parts[0] === 'history') return { name: 'history' };
  if (parts[0] === 'groups' && parts[1] && parts.length > 2) return { name: 'script', groupId: parts[1], file: parts.slice(2).join('/') };
  if (parts[0] === 'groups' && parts[1]) return { name: 'group', groupId: parts[1] };
  return { name: 'groups' };
}

async function route() {
  cleanupView?.();
  cleanupView = null;
  const token = ++renderToken;
  const session = currentSession();
  applyTheme();
  if (!session) {
    topbar.hidden = true;
    appView.hidden = true;
    loginView.hidden = false;
    document.title = 'Sign in · Scriptorium';
    $('login-username').focus();
    return;
  }
  loginView.hidden = true;
  topbar.hidden = false;
  appView.hidden = false;
  $('user-name').textContent = session.user?.username ?? '';
  $('user-level').textContent = session.user?.level ?? '';
  showError(null);
  clear(view);
  const target = parseHash();
  for (const link of document.querySelectorAll('[data-nav]')) {
    const current = (link.dataset.nav === 'history' && (target.name === 'history' || target.name === 'run')) || (link.dataset.nav === 'scripts' && ['groups', 'group', 'script'].includes(target.name));
    if (current) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  const stale = () => token !== renderToken;
  try {
    if (target.name === 'run') cleanupView = renderRun(view, target.id, { announce });
    else if (target.name === 'history') await renderHistory(view, stale);
    else if (target.name === 'group') await renderGroup(view, target.groupId, stale);
    else if (target.name === 'script') await renderScript(view, target.groupId, target.file, stale);
    else await renderGroups(view, stale);
  } catch (error) {
    if (!stale() && currentSession()) showError(error);
  }
}

window.addEventListener('hashchange', () => {
  route();
  document.getElementById('main').focus({ preventScroll: true });
});

// ---------------------------------------------------------------- catalog

async function renderGroups(root, stale) {
  document.title = 'Scripts · Scriptorium';
  const list = h('ul', { class: 'grid', testid: 'group-list', 'aria-busy': 'true' });
  root.append(h('div', { class: 'page-head' }, h('h1', {}, 'Script groups')), list);
  const groups = await api('/api/v1/groups');
  if (stale()) return;
  list.removeAttribute('aria-busy');
  if (!groups.length) list.replaceWith(h('p', { class: 'muted', testid: 'group-empty' }, 'No script groups are available to you.'));
  for (const group of groups) {
    list.appendChild(
      h('li', { class: 'card group-card', testid: 'group-card', dataset: { groupId: group.id } },
        h('h2', {}, h('a', { href: `#/groups/${encodeURIComponent(group.id)}`, testid: `group-link-${group.id}`, class: 'stretched' }, group.name || group.id)),
        h('p', { class: 'muted' }, group.description || ''),
        h('p', { class: 'meta' },
          h('span', { class: 'badge' }, `${group.scriptCount ?? 0} script${group.scriptCount === 1 ? '' : 's'}`),
          group.category ? h('span', { class: 'badge badge-soft' }, group.category) : null,
          group.requiredLevel ? h('span', { class: 'badge badge-soft' }, `${group.requiredLevel}+`) : null)));
  }
}

async function renderGroup(root, groupId, stale) {
  const groups = await api('/api/v1/groups');
  if (stale()) return;
  const group = groups.find((g) => g.id === groupId);
  document.title = `${group?.name ?? groupId} · Scriptorium`;
  const search = h('input', { type: 'search', id: 'script-search', placeholder: 'Search scripts…', testid: 'script-search', autocomplete: 'off' });
  const list = h('ul', { class: 'script-list', testid: 'script-list' });
  root.append(
    h('div', { class: 'page-head' },
      h('div', {}, h('p', { class: 'crumbs' }, h('a', { href: '#/' }, 'Scripts'), ' / '), h('h1', { testid: 'group-title' }, group?.name ?? groupId),
        group?.description ? h('p', { class: 'muted' }, group.description) : null),
      h('div', { class: 'search' }, h('label', { for: 'script-search', class: 'sr-only' }, 'Search scripts'), search)),
    list);

  let searchToken = 0;
  const load = async () => {
    const mine = ++searchToken;
    const q = search.value.trim();
    const scripts = await api(`/api/v1/groups/${encodeURIComponent(groupId)}/scripts${q ? `?q=${encodeURIComponent(q)}` : ''}`);
    if (stale() || mine !== searchToken) return;
    list.replaceChildren(...scripts.map((s) => scriptCard(s)));
    if (!scripts.length) list.appendChild(h('li', { class: 'muted' }, q ? 'No script matches your search.' : 'This group has no scripts you can see.'));
  };
  let debounce = null;
  search.addEventListener('input', () => {
    clearTimeout(debounce);
    debounce = setTimeout(() => load().catch(showError), 200);
  });
  await load();
}

function scriptCard(s) {
  const href = `#/groups/${encodeURIComponent(s.groupId)}/${encodeURIComponent(s.file)}`;
  return h('li', { class: `card script-card${s.valid === false ? ' invalid' : ''}`, testid: 'script-card', dataset: { scriptId: s.id, valid: String(s.valid !== false) } },
    h('div', { class: 'script-main' },
      h('h2', {}, s.valid === false ? h('span', { testid: 'script-name' }, s.name || s.file) : h('a', { href, testid: 'script-name' }, s.name || s.file)),
      h('p', { class: 'muted' }, s.description || ''),
      s.valid === false ? h('p', { class: 'banner banner-error small', testid: 'script-invalid' }, h('strong', {}, 'Not runnable: '), s.error || 'invalid script header') : null,
      h('p', { class: 'meta' },
        h('code', {}, s.file),
        s.category ? h('span', { class: 'badge badge-soft' }, s.category) : null,
        ...(s.tags ?? []).map((t) => h('span', { class: 'badge badge-tag' }, t)))),
    s.valid === false ? null : h('a', { class: 'btn btn-primary', href, testid: `open-script-${s.file}`, 'aria-label': `Open ${s.name || s.file}` }, 'Open'));
}

async function renderScript(root, groupId, file, stale) {
  const scripts = await api(`/api/v1/groups/${encodeURIComponent(groupId)}/scripts`);
  if (stale()) return;
  const script = scripts.find((s) => s.file === file || s.id === `${groupId}/${file}`);
  if (!script) {
    root.append(h('p', { class: 'banner banner-error', testid: 'script-missing' }, `Script ${groupId}/${file} was not found, or you cannot run it.`));
    return;
  }
  document.title = `${script.name} · Scriptorium`;
  const lang = language();
  const fields = parameterFields(script.parameters ?? [], lang, 'p');
  const formError = h('p', { class: 'banner banner-error', role: 'alert', testid: 'run-form-error', hidden: true });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', testid: 'run-submit', disabled: script.valid === false }, 'Run script');
  const form = h('form', { class: 'card run-form', testid: 'run-form', novalidate: true, 'aria-labelledby': 'script-title' },
    h('h2', {}, 'Parameters'),
    fields.element,
    formError,
    h('div', { class: 'form-actions' }, submit, h('span', { class: 'muted small' }, `Times out after ${formatDuration((script.timeoutSeconds ?? 0) * 1000)}`)));

  root.append(
    h('div', { class: 'page-head' },
      h('div', {},
        h('p', { class: 'crumbs' }, h('a', { href: '#/' }, 'Scripts'), ' / ', h('a', { href: `#/groups/${encodeURIComponent(groupId)}` }, groupId), ' / '),
        h('h1', { id: 'script-title', testid: 'script-title' }, script.name || script.file),
        h('p', { class: 'muted' }, script.description || ''),
        h('p', { class: 'meta' }, h('code', {}, script.id), ...(script.tags ?? []).map((t) => h('span', { class: 'badge badge-tag' }, t))))),
    ...(script.valid === false ? [h('p', { class: 'banner banner-error', testid: 'script-invalid' }, h('strong', {}, 'This script cannot run: '), script.error || 'invalid header')] : []),
    form);

  let inFlight = false;
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (inFlight || script.valid === false) return;
    inFlight = true;
    submit.disabled = true;
    formError.hidden = true;
    fields.showErrors({});
    // One key per click: a double click or a retried request never starts two runs.
    const idempotencyKey = uuid();
    try {
      const execution = await api('/api/v1/executions', {
        method: 'POST',
        headers: { 'Idempotency-Key': idempotencyKey },
        body: { scriptId: script.id, parameters: fields.collect() },
      });
      location.hash = `#/runs/${encodeURIComponent(execution.id)}`;
    } catch (error) {
      const fieldMessages = error instanceof ApiError && error.body && typeof error.body.fields === 'object' && error.body.fields ? error.body.fields : {};
      const rest = fields.showErrors(fieldMessages);
      const leftover = Object.entries(rest).map(([k, v]) => `${k}: ${v}`);
      if (!Object.keys(fieldMessages).length || leftover.length) {
        formError.textContent = leftover.length ? leftover.join('; ') : error.message;
        formError.hidden = false;
      }
      announce('The run was not started: check the highlighted parameters.');
    } finally {
      inFlight = false;
      submit.disabled = false;
    }
  });
}

// ---------------------------------------------------------------- history

async function renderHistory(root, stale) {
  document.title = 'History · Scriptorium';
  const body = h('tbody', { testid: 'history-rows' });
  const more = h('button', { type: 'button', class: 'btn', testid: 'history-more', hidden: true }, 'Load more');
  const empty = h('p', { class: 'muted', testid: 'history-empty', hidden: true }, 'You have not run anything yet.');
  const refreshButton = h('button', { type: 'button', class: 'btn', testid: 'history-refresh' }, 'Refresh');
  root.append(
    h('div', { class: 'page-head' }, h('h1', {}, 'Run history'), h('div', { class: 'actions' }, refreshButton)),
    h('div', { class: 'card table-card' },
      h('table', { class: 'table', testid: 'history-table' },
        h('caption', { class: 'sr-only' }, 'Your runs, newest first'),
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'State'), h('th', { scope: 'col' }, 'Script'), h('th', { scope: 'col' }, 'Started'), h('th', { scope: 'col' }, 'Duration'), h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Open')))),
        body)),
    empty,
    h('div', { class: 'form-actions' }, more));

  let nextPageToken = null;
  const load = async (reset) => {
    const query = new URLSearchParams({ pageSize: '50' });
    if (!reset && nextPageToken) query.set('pageToken', nextPageToken);
    const page = await api(`/api/v1/executions?${query}`);
    if (stale()) return;
    if (reset) body.replaceChildren();
    for (const e of page.items ?? []) body.appendChild(historyRow(e));
    nextPageToken = page.nextPageToken || null;
    more.hidden = !nextPageToken;
    empty.hidden = body.children.length > 0;
  };
  more.addEventListener('click', () => load(false).catch(showError));
  refreshButton.addEventListener('click', () => load(true).catch(showError));
  await load(true);
}

function historyRow(e) {
  const href = `#/runs/${encodeURIComponent(e.id)}`;
  const duration = ACTIVE_STATES.has(e.state) ? (e.startedAt ? Date.now() - Date.parse(e.startedAt) : null) : e.durationMs;
  return h('tr', { testid: 'history-row', dataset: { executionId: e.id, state: e.state } },
    h('td', {}, stateBadge(e.state, 'history-state')),
    h('td', {}, h('a', { href, testid: 'history-link' }, e.scriptName || e.scriptId), h('div', { class: 'muted small' }, e.scriptId)),
    h('td', { testid: 'history-started' }, formatTime(e.startedAt || e.createdAt)),
    h('td', { testid: 'history-duration' }, ACTIVE_STATES.has(e.state) && !e.startedAt ? '—' : formatDuration(duration)),
    h('td', {}, h('a', { href, class: 'btn btn-small', 'aria-label': `Open run of ${e.scriptName || e.scriptId}` }, 'View')));
}

// ---------------------------------------------------------------- start

async function start() {
  applyTheme();
  if (currentSession()) {
    // Keep the user's preferences current (theme, language); a 401 here signs out.
    api('/api/v1/me')
      .then((user) => {
        if (user && typeof user === 'object') {
          setUser(user);
          $('user-name').textContent = user.username ?? '';
          $('user-level').textContent = user.level ?? '';
        }
      })
      .catch(() => undefined);
  }
  await route();
}

start();
