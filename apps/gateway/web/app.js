// Scriptorium web UI: login, catalog, parameter forms, runs and history. No build step, no dependencies.
import { ApiError, api, currentSession, login, logout, onSessionChange, setUser } from './api.js';
import { ACTIVE_STATES, clear, formatDuration, formatTime, h, stateBadge } from './dom.js';
import { getLanguage, setLanguage, t, translateStatic } from './i18n.js';
import { renderSettings, renderUsers } from './admin.js';
import { renderProjectFiles } from './projects.js';
import { renderRun } from './run.js';
import { renderScript } from './script.js';
import { renderSessions, resumeHeartbeats, stopAllHeartbeats } from './sessions.js';

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
  return currentSession()?.user?.language || getLanguage();
}

/** Theme and language of the signed-in user, applied to the whole page at once. */
function applyTheme() {
  const user = currentSession()?.user;
  const theme = user?.theme;
  const root = document.documentElement;
  if (theme === 'dark' || theme === 'light') root.dataset.theme = theme;
  else delete root.dataset.theme; // follow the system until we know the user's choice
  if (user?.language) setLanguage(user.language);
  root.lang = getLanguage();
  translateStatic();
  const admin = user?.level === 'admin';
  for (const el of document.querySelectorAll('[data-admin-only]')) el.hidden = !admin;
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
    errorEl.textContent = t('login.missing');
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
    errorEl.textContent = error instanceof ApiError && error.status === 401 ? t('login.wrong') : `Could not sign in: ${error.message}`;
    errorEl.hidden = false;
    form.password.focus();
  } finally {
    submit.disabled = false;
  }
});

$('logout').addEventListener('click', async () => {
  stopAllHeartbeats();
  await logout();
  location.hash = '#/';
});

onSessionChange((session) => {
  applyTheme();
  if (!session) route();
});

// ---------------------------------------------------------------- router

function parseHash() {
  const [path, search = ''] = location.hash.replace(/^#\/?/, '').split('?');
  const params = new URLSearchParams(search);
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  if (parts[0] === 'runs' && parts[1]) return { name: 'run', id: parts[1] };
  if (parts[0] === 'history') return { name: 'history' };
  if (parts[0] === 'sessions') return { name: 'sessions' };
  if (parts[0] === 'settings') return { name: 'settings' };
  if (parts[0] === 'admin' && parts[1] === 'users') return { name: 'users' };
  if (parts[0] === 'projects' && parts[1]) return { name: 'files', id: parts[1] };
  if (parts[0] === 'groups' && parts[1] && parts.length > 2) return { name: 'script', groupId: parts[1], file: parts.slice(2).join('/') };
  if (parts[0] === 'groups' && parts[1]) return { name: 'group', groupId: parts[1] };
  return { name: 'groups', params };
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
    const current = (link.dataset.nav === 'history' && (target.name === 'history' || target.name === 'run')) ||
      (link.dataset.nav === 'scripts' && ['groups', 'group', 'script', 'files'].includes(target.name)) ||
      link.dataset.nav === target.name;
    if (current) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  const stale = () => token !== renderToken;
  try {
    const helpers = { announce, showError, rerender: () => route() };
    if (target.name === 'run') cleanupView = renderRun(view, target.id, { announce });
    else if (target.name === 'history') await renderHistory(view, stale);
    else if (target.name === 'sessions') cleanupView = await renderSessions(view, stale, helpers);
    else if (target.name === 'settings') renderSettings(view, { ...helpers, onChanged: () => route() });
    else if (target.name === 'users') await renderUsers(view, stale, helpers);
    else if (target.name === 'files') await renderProjectFiles(view, target.id, stale, helpers);
    else if (target.name === 'group') await renderGroup(view, target.groupId, stale);
    else if (target.name === 'script') await renderScript(view, target.groupId, target.file, stale, helpers);
    else await renderGroups(view, stale, target.params);
  } catch (error) {
    if (!stale() && currentSession()) showError(error);
  }
}

window.addEventListener('hashchange', () => {
  route();
  document.getElementById('main').focus({ preventScroll: true });
});

// ---------------------------------------------------------------- catalog

async function renderGroups(root, stale, params = new URLSearchParams()) {
  document.title = `${t('nav.scripts')} · Scriptorium`;
  const list = h('ul', { class: 'grid', testid: 'group-list', 'aria-busy': 'true' });
  const search = searchPanel(stale, params);
  root.append(h('div', { class: 'page-head' }, h('h1', {}, t('groups.title'))), search.element, list);
  const groups = await api(`/api/v1/groups?language=${language()}`);
  if (stale()) return;
  list.removeAttribute('aria-busy');
  if (!groups.length) list.replaceWith(h('p', { class: 'muted', testid: 'group-empty' }, t('groups.empty')));
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
  await search.ready;
}

/** Search across every group by text and tags (system or personal), all or any of them. */
function searchPanel(stale, params) {
  const q = h('input', { type: 'search', id: 'catalog-q', testid: 'catalog-search', placeholder: t('search.placeholder'), autocomplete: 'off', value: params.get('q') ?? '' });
  const tags = h('input', { id: 'catalog-tags', testid: 'catalog-tags', placeholder: 'etl, daily', autocomplete: 'off', value: params.get('tags') ?? '' });
  const match = h('select', { id: 'catalog-match', testid: 'catalog-match' },
    h('option', { value: 'all', selected: params.get('match') !== 'any' }, t('search.matchAll')),
    h('option', { value: 'any', selected: params.get('match') === 'any' }, t('search.matchAny')));
  const clearButton = h('button', { type: 'button', class: 'btn btn-small', testid: 'catalog-clear' }, t('search.clear'));
  const myTags = h('p', { class: 'meta', testid: 'my-tags' });
  const count = h('p', { class: 'muted small', role: 'status', testid: 'catalog-count' });
  const results = h('ul', { class: 'script-list', testid: 'catalog-results' });
  const element = h('section', { class: 'card search-card', testid: 'catalog-search-panel', 'aria-label': t('search.label') },
    h('div', { class: 'search-row' },
      h('div', { class: 'field grow' }, h('label', { for: 'catalog-q' }, t('search.label')), q),
      h('div', { class: 'field' }, h('label', { for: 'catalog-tags' }, t('search.tags')), tags),
      h('div', { class: 'field' }, h('label', { for: 'catalog-match' }, t('search.match')), match),
      h('div', { class: 'field' }, clearButton)),
    myTags, count, results);

  let token = 0;
  const load = async () => {
    const mine = ++token;
    const text = q.value.trim();
    const tagText = tags.value.split(',').map((x) => x.trim()).filter(Boolean).join(',');
    if (!text && !tagText) {
      results.replaceChildren();
      count.textContent = '';
      element.dataset.searched = 'false';
      return;
    }
    const query = new URLSearchParams({ language: language(), limit: '100' });
    if (text) query.set('q', text);
    if (tagText) {
      query.set('tags', tagText);
      query.set('match', match.value);
    }
    const answer = await api(`/api/v1/scripts?${query}`);
    if (stale() || mine !== token) return;
    results.replaceChildren(...(answer.scripts ?? []).map((x) => scriptCard(x, addTag)));
    count.textContent = answer.total ? t('search.results', { n: answer.total }) : t('search.none');
    element.dataset.searched = 'true';
    element.dataset.total = String(answer.total ?? 0);
  };
  const addTag = (tag) => {
    const current = tags.value.split(',').map((x) => x.trim()).filter(Boolean);
    if (!current.includes(tag)) tags.value = [...current, tag].join(', ');
    load().catch(showError);
  };
  let debounce = null;
  const later = () => {
    clearTimeout(debounce);
    debounce = setTimeout(() => load().catch(showError), 200);
  };
  q.addEventListener('input', later);
  tags.addEventListener('input', later);
  match.addEventListener('change', () => load().catch(showError));
  clearButton.addEventListener('click', () => {
    q.value = '';
    tags.value = '';
    load().catch(showError);
  });
  api('/api/v1/tags')
    .then((mineTags) => {
      if (!mineTags?.length) return;
      myTags.replaceChildren(h('span', { class: 'muted small' }, `${t('search.myTags')}:`),
        ...mineTags.map((x) => h('button', { type: 'button', class: 'badge badge-personal tag-button', testid: 'my-tag', onclick: () => addTag(x.tag) }, `${x.tag} (${x.count})`)));
    })
    .catch(() => undefined);
  return { element, ready: load() };
}

async function renderGroup(root, groupId, stale) {
  const groups = await api(`/api/v1/groups?language=${language()}`);
  if (stale()) return;
  const group = groups.find((g) => g.id === groupId);
  document.title = `${group?.name ?? groupId} · Scriptorium`;
  const search = h('input', { type: 'search', id: 'script-search', placeholder: t('search.placeholder'), testid: 'script-search', autocomplete: 'off' });
  const list = h('ul', { class: 'script-list', testid: 'script-list' });
  root.append(
    h('div', { class: 'page-head' },
      h('div', {}, h('p', { class: 'crumbs' }, h('a', { href: '#/' }, t('nav.scripts')), ' / '), h('h1', { testid: 'group-title' }, group?.name ?? groupId),
        group?.description ? h('p', { class: 'muted' }, group.description) : null),
      h('div', { class: 'search' }, h('label', { for: 'script-search', class: 'sr-only' }, 'Search scripts'), search)),
    list);

  let searchToken = 0;
  const load = async () => {
    const mine = ++searchToken;
    const q = search.value.trim();
    const scripts = await api(`/api/v1/groups/${encodeURIComponent(groupId)}/scripts?language=${language()}${q ? `&q=${encodeURIComponent(q)}` : ''}`);
    if (stale() || mine !== searchToken) return;
    list.replaceChildren(...scripts.map((s) => scriptCard(s)));
    if (!scripts.length) list.appendChild(h('li', { class: 'muted' }, q ? t('search.none') : t('group.noScripts')));
  };
  let debounce = null;
  search.addEventListener('input', () => {
    clearTimeout(debounce);
    debounce = setTimeout(() => load().catch(showError), 200);
  });
  await load();
}

function scriptCard(s, onTag) {
  const href = `#/groups/${encodeURIComponent(s.groupId)}/${encodeURIComponent(s.file)}`;
  return h('li', { class: `card script-card${s.valid === false ? ' invalid' : ''}`, testid: 'script-card', dataset: { scriptId: s.id, valid: String(s.valid !== false) } },
    h('div', { class: 'script-main' },
      h('h2', {}, s.valid === false ? h('span', { testid: 'script-name' }, s.name || s.file) : h('a', { href, testid: 'script-name' }, s.name || s.file)),
      h('p', { class: 'muted' }, s.description || ''),
      s.valid === false ? h('p', { class: 'banner banner-error small', testid: 'script-invalid' }, h('strong', {}, t('notRunnable')), s.error || 'invalid script header') : null,
      h('p', { class: 'meta' },
        h('code', {}, s.file),
        s.category ? h('span', { class: 'badge badge-soft' }, s.category) : null,
        s.interactive ? h('span', { class: 'badge badge-interactive' }, t('script.interactive')) : null,
        ...(s.tags ?? []).map((tag) => onTag ? h('button', { type: 'button', class: 'badge badge-tag tag-button', onclick: () => onTag(tag) }, tag) : h('span', { class: 'badge badge-tag' }, tag)),
        ...(s.personalTags ?? []).map((tag) => onTag ? h('button', { type: 'button', class: 'badge badge-personal tag-button', onclick: () => onTag(tag) }, tag) : h('span', { class: 'badge badge-personal' }, tag)))),
    s.valid === false ? null : h('a', { class: 'btn btn-primary', href, testid: `open-script-${s.file}`, 'aria-label': `${t('open')} ${s.name || s.file}` }, t('open')));
}

// ---------------------------------------------------------------- history

async function renderHistory(root, stale) {
  document.title = `${t('nav.history')} · Scriptorium`;
  const body = h('tbody', { testid: 'history-rows' });
  const more = h('button', { type: 'button', class: 'btn', testid: 'history-more', hidden: true }, t('history.more'));
  const empty = h('p', { class: 'muted', testid: 'history-empty', hidden: true }, t('history.empty'));
  const refreshButton = h('button', { type: 'button', class: 'btn', testid: 'history-refresh' }, t('history.refresh'));
  root.append(
    h('div', { class: 'page-head' }, h('h1', {}, t('history.title')), h('div', { class: 'actions' }, refreshButton)),
    h('div', { class: 'card table-card' },
      h('table', { class: 'table', testid: 'history-table' },
        h('caption', { class: 'sr-only' }, 'Your runs, newest first'),
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('history.state')), h('th', { scope: 'col' }, t('history.script')), h('th', { scope: 'col' }, t('history.started')), h('th', { scope: 'col' }, t('history.duration')), h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Open')))),
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
    h('td', {}, h('a', { href, class: 'btn btn-small', 'aria-label': `${t('history.view')}: ${e.scriptName || e.scriptId}` }, t('history.view'))));
}

// ---------------------------------------------------------------- start

async function start() {
  applyTheme();
  if (currentSession()) {
    // Keep the user's preferences current (theme, language); a 401 here signs out.
    api('/api/v1/me')
      .then((user) => {
        if (user && typeof user === 'object') {
          const changed = user.language !== currentSession()?.user?.language || user.theme !== currentSession()?.user?.theme;
          setUser(user);
          $('user-name').textContent = user.username ?? '';
          $('user-level').textContent = user.level ?? '';
          if (changed) route();
        }
      })
      .catch(() => undefined);
  }
  resumeHeartbeats();
  await route();
}

start();
