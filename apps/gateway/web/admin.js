// Preferences (#/settings) for everyone, and the users page (#/admin/users) for admins.
import { api, currentSession, refresh, setUser } from './api.js';
import { formatTime, h } from './dom.js';
import { LANGUAGES, t } from './i18n.js';

const LEVELS = ['viewer', 'operator', 'developer', 'admin'];

/** Saves language and theme, refreshes the token (it carries them) and re-renders: no sign-out needed. */
export async function savePreferences(changes) {
  const user = await api('/api/v1/me', { method: 'PATCH', body: changes });
  await refresh().catch(() => undefined);
  setUser({ ...(currentSession()?.user ?? {}), ...user });
  return user;
}

export function renderSettings(root, { announce, showError, onChanged }) {
  document.title = `${t('settings.title')} · Scriptorium`;
  const user = currentSession()?.user ?? {};
  const language = h('select', { id: 'pref-language', testid: 'pref-language' },
    Object.entries(LANGUAGES).map(([code, name]) => h('option', { value: code, selected: code === (user.language || 'en') }, name)));
  const theme = (value) => h('div', { class: 'check-row' },
    h('input', { type: 'radio', name: 'theme', id: `pref-theme-${value}`, value, testid: `pref-theme-${value}`, checked: (user.theme || 'light') === value }),
    h('label', { for: `pref-theme-${value}` }, t(`settings.${value}`)));
  const save = h('button', { type: 'submit', class: 'btn btn-primary', testid: 'pref-save' }, t('settings.save'));
  const status = h('p', { class: 'muted small', role: 'status', testid: 'pref-status' });
  const form = h('form', { class: 'card settings-form', testid: 'settings-form', novalidate: true },
    h('div', { class: 'field' }, h('label', { for: 'pref-language' }, t('settings.language')), language),
    h('fieldset', { class: 'field field-group' }, h('legend', {}, t('settings.theme')), h('div', { class: 'check-list' }, theme('light'), theme('dark'))),
    h('div', { class: 'form-actions' }, save), status);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    save.disabled = true;
    try {
      await savePreferences({ language: language.value, theme: form.querySelector('input[name="theme"]:checked')?.value ?? 'light' });
      onChanged();
      announce(t('settings.saved'));
    } catch (error) {
      showError(error);
    } finally {
      save.disabled = false;
    }
  });
  root.append(h('div', { class: 'page-head' }, h('h1', {}, t('settings.title'))), form);
}

export async function renderUsers(root, stale, { announce, showError }) {
  document.title = `${t('users.title')} · Scriptorium`;
  const search = h('input', { type: 'search', id: 'user-search', testid: 'user-search', placeholder: t('users.search'), autocomplete: 'off' });
  const body = h('tbody', { testid: 'user-rows' });
  const more = h('button', { type: 'button', class: 'btn', testid: 'users-more', hidden: true }, t('users.more'));
  const total = h('span', { class: 'muted small', testid: 'users-total' });

  const username = h('input', { id: 'new-username', testid: 'new-username', autocomplete: 'off', required: true });
  const email = h('input', { id: 'new-email', testid: 'new-email', type: 'email', autocomplete: 'off' });
  const password = h('input', { id: 'new-password', testid: 'new-password', type: 'password', autocomplete: 'new-password', minlength: 10, required: true });
  const level = h('select', { id: 'new-level', testid: 'new-level' }, LEVELS.map((l) => h('option', { value: l, selected: l === 'operator' }, l)));
  const createError = h('p', { class: 'banner banner-error small', role: 'alert', testid: 'new-user-error', hidden: true });
  const field = (id, label, input) => h('div', { class: 'field' }, h('label', { for: id }, label), input);
  const createForm = h('form', { class: 'card', testid: 'new-user-form', novalidate: true },
    h('h2', {}, t('users.create')),
    h('div', { class: 'field-grid' },
      field('new-username', t('users.username'), username), field('new-email', t('users.email'), email),
      field('new-password', t('users.password'), password), field('new-level', t('users.level'), level)),
    createError,
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary', testid: 'new-user-submit' }, t('users.create'))));

  root.append(
    h('div', { class: 'page-head' }, h('div', {}, h('h1', {}, t('users.title')), total), h('div', { class: 'search' }, h('label', { for: 'user-search', class: 'sr-only' }, t('users.search')), search)),
    h('div', { class: 'card table-card' },
      h('table', { class: 'table', testid: 'users-table' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('users.username')), h('th', { scope: 'col' }, t('users.email')), h('th', { scope: 'col' }, t('users.level')),
          h('th', { scope: 'col' }, t('users.active')), h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Actions')))),
        body)),
    h('div', { class: 'form-actions' }, more),
    createForm);

  const me = currentSession()?.user?.id;
  const row = (u) => {
    const levelSelect = h('select', { class: 'inline-select', testid: 'user-level-select', 'aria-label': `${t('users.level')}: ${u.username}`, disabled: u.id === me },
      LEVELS.map((l) => h('option', { value: l, selected: l === u.level }, l)));
    levelSelect.addEventListener('change', async () => {
      try {
        const updated = await api(`/api/v1/users/${encodeURIComponent(u.id)}`, { method: 'PATCH', body: { level: levelSelect.value } });
        tr.replaceWith(row(updated));
      } catch (error) {
        levelSelect.value = u.level;
        showError(error);
      }
    });
    const toggle = h('button', { type: 'button', class: `btn btn-small${u.active ? ' btn-danger' : ''}`, testid: 'user-toggle-active', disabled: u.id === me }, u.active ? t('users.deactivate') : t('users.activate'));
    toggle.addEventListener('click', async () => {
      try {
        const updated = await api(`/api/v1/users/${encodeURIComponent(u.id)}/${u.active ? 'deactivate' : 'activate'}`, { method: 'POST' });
        tr.replaceWith(row(updated));
      } catch (error) {
        showError(error);
      }
    });
    const reset = h('button', { type: 'button', class: 'btn btn-small', testid: 'user-reset-password' }, t('users.resetPassword'));
    reset.addEventListener('click', async () => {
      const next = window.prompt(t('users.newPassword', { name: u.username }));
      if (!next) return;
      try {
        await api(`/api/v1/users/${encodeURIComponent(u.id)}/password`, { method: 'POST', body: { newPassword: next } });
        announce(t('users.passwordReset', { name: u.username }));
        tr.dataset.passwordReset = 'true';
      } catch (error) {
        showError(error);
      }
    });
    const tr = h('tr', { testid: 'user-row', dataset: { userId: u.id, username: u.username, level: u.level, active: String(u.active) } },
      h('td', {}, h('strong', {}, u.username), h('div', { class: 'muted small' }, formatTime(u.createdAt))),
      h('td', {}, u.email || '—'),
      h('td', {}, levelSelect),
      h('td', {}, h('span', { class: `badge ${u.active ? 'state-succeeded' : 'state-cancelled'}` }, u.active ? t('users.active') : t('users.inactive'))),
      h('td', {}, h('div', { class: 'actions end' }, reset, toggle)));
    return tr;
  };

  let nextPageToken = null;
  let token = 0;
  const load = async (reset) => {
    const mine = ++token;
    const query = new URLSearchParams({ pageSize: '50' });
    if (search.value.trim()) query.set('search', search.value.trim());
    if (!reset && nextPageToken) query.set('pageToken', nextPageToken);
    const page = await api(`/api/v1/users?${query}`);
    if (stale() || mine !== token) return;
    if (reset) body.replaceChildren();
    for (const u of page.items ?? []) body.appendChild(row(u));
    nextPageToken = page.nextPageToken || null;
    more.hidden = !nextPageToken;
    total.textContent = page.total !== undefined ? `${page.total}` : '';
  };
  let debounce = null;
  search.addEventListener('input', () => {
    clearTimeout(debounce);
    debounce = setTimeout(() => load(true).catch(showError), 200);
  });
  more.addEventListener('click', () => load(false).catch(showError));
  createForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    createError.hidden = true;
    try {
      const user = await api('/api/v1/users', { method: 'POST', body: { username: username.value.trim(), email: email.value.trim() || undefined, password: password.value, level: level.value } });
      announce(t('users.created', { name: user.username }));
      createForm.reset();
      await load(true);
    } catch (error) {
      createError.textContent = error.body?.fields ? Object.values(error.body.fields).join('; ') : error.message;
      createError.hidden = false;
    }
  });
  await load(true);
}
