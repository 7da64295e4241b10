// The script page: run form (with project picker), documentation, tags, and for developers and
// admins the metadata editor with versions, revert and re-parse.
import { ApiError, api, currentSession, uuid } from './api.js';
import { formatDuration, formatTime, h } from './dom.js';
import { LANGUAGES, getLanguage, t } from './i18n.js';
import { parameterFields } from './params.js';
import { projectPicker } from './projects.js';

const LEVELS = ['viewer', 'operator', 'developer', 'admin'];
const scriptPath = (script) => `/api/v1/scripts/${encodeURIComponent(script.groupId)}/${encodeURIComponent(script.file)}`;

export function canEdit() {
  const level = currentSession()?.user?.level;
  return level === 'developer' || level === 'admin';
}

/**
 * The documentation frame. The HTML comes sanitized from the catalog; it is still shown only in
 * a sandboxed frame without scripts (and a CSP that forbids them), never in this page's DOM.
 */
function docsFrame(html) {
  const dark = document.documentElement.dataset.theme === 'dark';
  const style = `
    :root { color-scheme: ${dark ? 'dark' : 'light'}; }
    body { margin: 0; font: 15px/1.6 system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; color: ${dark ? '#e6e8ee' : '#1b1f27'}; background: transparent; overflow-wrap: anywhere; }
    a { color: ${dark ? '#7ea2ff' : '#2f5fd0'}; }
    h1 { font-size: 1.35rem; margin: 0.2rem 0 0.6rem; } h2 { font-size: 1.1rem; margin: 1.1rem 0 0.4rem; } h3 { font-size: 1rem; }
    code, pre { font-family: ui-monospace, SFMono-Regular, 'DejaVu Sans Mono', Menlo, monospace; font-size: 0.9em; }
    code { background: ${dark ? '#232835' : '#f0f2f5'}; padding: 0.05em 0.3em; border-radius: 4px; }
    pre { background: ${dark ? '#0b0e15' : '#f0f2f5'}; padding: 0.7rem 0.9rem; border-radius: 8px; overflow: auto; }
    pre code { background: none; padding: 0; }
    table { border-collapse: collapse; } th, td { border: 1px solid ${dark ? '#2f3545' : '#d9dde4'}; padding: 0.3rem 0.6rem; }
    blockquote { margin: 0.5rem 0; padding-left: 0.8rem; border-left: 3px solid ${dark ? '#2f3545' : '#d9dde4'}; color: ${dark ? '#9aa3b2' : '#5b6472'}; }
    img { max-width: 100%; }
    .hljs-keyword, .hljs-built_in { color: ${dark ? '#c792ea' : '#8839ef'}; } .hljs-string { color: ${dark ? '#c3e88d' : '#40a02b'}; }
    .hljs-comment { color: ${dark ? '#7f8799' : '#7c7f93'}; font-style: italic; } .hljs-number, .hljs-literal { color: ${dark ? '#f78c6c' : '#fe640b'}; }
    .katex-mathml { display: none; }`;
  const doc = `<!doctype html><html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'none'; style-src 'unsafe-inline'; img-src https: data:">
<base target="_blank"><style>${style}</style></head><body>${html}</body></html>`;
  const frame = h('iframe', {
    class: 'docs-frame',
    testid: 'script-docs-frame',
    title: t('script.docs'),
    sandbox: 'allow-same-origin allow-popups allow-popups-to-escape-sandbox',
    referrerpolicy: 'no-referrer',
  });
  frame.srcdoc = doc;
  const fit = () => {
    try {
      const height = frame.contentDocument?.documentElement?.scrollHeight;
      if (height) frame.style.height = `${height + 4}px`;
    } catch {
      /* not readable: keep the default height */
    }
  };
  frame.addEventListener('load', () => {
    fit();
    setTimeout(fit, 300); // images and fonts
  });
  return frame;
}

function docsSection(script) {
  const lang = getLanguage();
  const select = h('select', { id: 'docs-language', testid: 'docs-language', class: 'inline-select' });
  const note = h('p', { class: 'muted small', testid: 'docs-fallback', hidden: true });
  const body = h('div', { class: 'docs-body', testid: 'script-docs' });
  const section = h('section', { class: 'card docs-card', testid: 'docs-section', 'aria-labelledby': 'docs-h' },
    h('div', { class: 'card-head' }, h('h2', { id: 'docs-h' }, t('script.docs')),
      h('div', { class: 'actions', testid: 'docs-language-box' }, h('label', { for: 'docs-language', class: 'small muted' }, t('script.docLanguage')), select)),
    note, body);

  const load = async (language) => {
    const docs = await api(`${scriptPath(script)}/docs?language=${encodeURIComponent(language)}`);
    const available = docs.availableLanguages?.length ? docs.availableLanguages : [docs.language || language];
    select.replaceChildren(...available.map((l) => h('option', { value: l, selected: l === docs.language }, LANGUAGES[l] ?? l)));
    select.parentElement.hidden = available.length < 2;
    section.dataset.language = docs.language ?? '';
    note.hidden = !docs.fallback;
    note.textContent = docs.fallback ? t('script.fallback', { lang: LANGUAGES[docs.language] ?? docs.language }) : '';
    if (docs.html) body.replaceChildren(docsFrame(docs.html));
    else body.replaceChildren(h('p', { class: 'muted', testid: 'docs-empty' }, t('script.noDocs')));
  };
  select.addEventListener('change', () => load(select.value).catch((e) => body.replaceChildren(h('p', { class: 'banner banner-error' }, e.message))));
  load(lang).catch((e) => body.replaceChildren(h('p', { class: 'banner banner-error', testid: 'docs-error' }, e.message)));
  return section;
}

const splitTags = (text) => text.split(',').map((s) => s.trim()).filter(Boolean);

function tagsSection(script, { announce, showError }) {
  const system = h('p', { class: 'meta', testid: 'system-tags' });
  const input = h('input', { id: 'personal-tags', testid: 'personal-tags', autocomplete: 'off', 'aria-describedby': 'personal-tags-help' });
  const save = h('button', { type: 'submit', class: 'btn btn-small', testid: 'personal-tags-save' }, t('script.tagsSave'));
  const mine = h('p', { class: 'meta', testid: 'personal-tag-list' });
  const error = h('p', { class: 'field-error', testid: 'personal-tags-error', hidden: true });
  const form = h('form', { class: 'tags-form', novalidate: true },
    h('label', { for: 'personal-tags' }, t('script.personalTags')),
    h('div', { class: 'project-row' }, input, save),
    h('p', { class: 'field-help', id: 'personal-tags-help' }, t('script.tagsHelp')), error);
  const tagLink = (tag, cls) => h('a', { class: `badge ${cls}`, href: `#/?tags=${encodeURIComponent(tag)}`, testid: 'tag-link' }, tag);
  const show = (tags) => {
    system.replaceChildren(h('span', { class: 'muted small' }, `${t('script.systemTags')}:`), ...(tags.systemTags ?? []).map((x) => tagLink(x, 'badge-tag')));
    mine.replaceChildren(...(tags.personalTags ?? []).map((x) => tagLink(x, 'badge-personal')));
    input.value = (tags.personalTags ?? []).join(', ');
  };
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.hidden = true;
    save.disabled = true;
    try {
      show(await api(`${scriptPath(script)}/tags`, { method: 'PUT', body: { tags: splitTags(input.value) } }));
      announce(t('script.tagsSaved'));
      form.dataset.saved = String(Date.now());
    } catch (e) {
      error.textContent = e.message;
      error.hidden = false;
    } finally {
      save.disabled = false;
    }
  });
  api(`${scriptPath(script)}/tags`).then(show).catch(showError);
  return h('section', { class: 'card', testid: 'tags-section', 'aria-labelledby': 'tags-h' }, h('h2', { id: 'tags-h' }, t('script.tags')), system, mine, form);
}

function metadataSection(script, { announce, showError, rerender }) {
  const lang = getLanguage();
  const langSelect = h('select', { id: 'meta-language', testid: 'meta-language', class: 'inline-select' },
    Object.entries(LANGUAGES).map(([code, name]) => h('option', { value: code, selected: code === lang }, name)));
  const description = h('input', { id: 'meta-description', testid: 'meta-description' });
  const longDescription = h('textarea', { id: 'meta-long', testid: 'meta-long', rows: 8 });
  const level = h('select', { id: 'meta-level', testid: 'meta-level' }, LEVELS.map((l) => h('option', { value: l, selected: l === script.requiredLevel }, l)));
  const timeout = h('input', { id: 'meta-timeout', testid: 'meta-timeout', type: 'number', min: 0, step: 1, value: String(script.timeoutSeconds ?? 0) });
  const category = h('input', { id: 'meta-category', testid: 'meta-category', value: script.category ?? '' });
  const tags = h('input', { id: 'meta-tags', testid: 'meta-tags', value: (script.tags ?? []).join(', ') });
  const comment = h('input', { id: 'meta-comment', testid: 'meta-comment', maxlength: 500 });
  const error = h('p', { class: 'banner banner-error small', role: 'alert', testid: 'meta-error', hidden: true });
  const status = h('p', { class: 'muted small', testid: 'meta-status' }, script.edited ? t('meta.edited', { fields: (script.editedFields ?? []).join(', ') }) : '');
  const save = h('button', { type: 'submit', class: 'btn btn-primary', testid: 'meta-save' }, t('meta.save'));
  const reparse = h('button', { type: 'button', class: 'btn', testid: 'meta-reparse' }, t('meta.reparse'));
  const versions = h('ol', { class: 'versions', testid: 'meta-versions', reversed: true });
  const field = (id, label, input) => h('div', { class: 'field' }, h('label', { for: id }, label), input);

  // Per language: what the script has now, to send only what changed.
  const loaded = { description: {}, long: {} };
  const loadLanguage = async (code) => {
    description.value = script.descriptions?.[code] ?? '';
    loaded.description[code] = description.value;
    const docs = await api(`${scriptPath(script)}/docs?language=${code}`).catch(() => null);
    longDescription.value = docs && docs.language === code && !docs.fallback ? docs.markdown ?? '' : '';
    loaded.long[code] = longDescription.value;
  };
  langSelect.addEventListener('change', () => loadLanguage(langSelect.value).catch(showError));

  const form = h('form', { class: 'meta-form', testid: 'meta-form', novalidate: true },
    h('div', { class: 'field' }, h('label', { for: 'meta-language' }, t('script.docLanguage')), langSelect),
    field('meta-description', t('meta.description'), description),
    field('meta-long', t('meta.long'), longDescription),
    h('div', { class: 'field-grid' },
      field('meta-level', t('meta.level'), level),
      field('meta-timeout', t('meta.timeout'), timeout),
      field('meta-category', t('meta.category'), category)),
    field('meta-tags', t('meta.tags'), tags),
    field('meta-comment', t('meta.comment'), comment),
    error, status,
    h('div', { class: 'form-actions' }, save, reparse));

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.hidden = true;
    const code = langSelect.value;
    const body = { expectedVersion: script.metadataVersion ?? 0 };
    if (description.value !== loaded.description[code]) body.description = { [code]: description.value };
    if (longDescription.value !== loaded.long[code]) body.longDescription = { [code]: longDescription.value };
    if (level.value !== script.requiredLevel) body.requiredLevel = level.value;
    if (Number(timeout.value) !== Number(script.timeoutSeconds ?? 0)) body.timeoutSeconds = Number(timeout.value);
    if (category.value.trim() !== (script.category ?? '')) body.category = category.value.trim();
    if (splitTags(tags.value).join(',') !== (script.tags ?? []).join(',')) body.tags = splitTags(tags.value);
    if (comment.value.trim()) body.comment = comment.value.trim();
    save.disabled = true;
    try {
      const updated = await api(`${scriptPath(script)}/metadata`, { method: 'PATCH', body });
      announce(t('meta.saved', { v: updated.metadataVersion }));
      rerender();
    } catch (e) {
      const fields = e instanceof ApiError && e.body?.fields ? Object.entries(e.body.fields).map(([k, v]) => `${k}: ${v}`).join('; ') : '';
      error.textContent = fields || e.message;
      error.hidden = false;
    } finally {
      save.disabled = false;
    }
  });

  reparse.addEventListener('click', async () => {
    if (!window.confirm(t('meta.reparseConfirm'))) return;
    try {
      await api(`${scriptPath(script)}/metadata/reparse`, { method: 'POST', body: {} });
      rerender();
    } catch (e) {
      showError(e);
    }
  });

  const loadVersions = async () => {
    const answer = await api(`${scriptPath(script)}/metadata/versions`);
    const items = [...(answer.versions ?? [])].sort((a, b) => b.version - a.version);
    // Version 0 is the script header as discovered, before any edit.
    if (items.length) items.push({ version: 0, action: t('meta.original'), changedFields: [] });
    versions.replaceChildren(...items.map((v) => {
      const isCurrent = v.version === answer.currentVersion;
      const revert = h('button', { type: 'button', class: 'btn btn-small', testid: 'meta-revert', hidden: isCurrent }, t('meta.revert'));
      revert.addEventListener('click', async () => {
        try {
          await api(`${scriptPath(script)}/metadata/versions/${v.version}/revert`, { method: 'POST', body: {} });
          rerender();
        } catch (e) {
          showError(e);
        }
      });
      return h('li', { testid: 'meta-version', dataset: { version: String(v.version), action: v.action } },
        h('strong', {}, `v${v.version}`), ' ', h('span', { class: 'badge badge-soft' }, v.action), isCurrent ? h('span', { class: 'badge badge-tag' }, t('meta.current')) : null,
        ' ', v.version === 0 ? null : h('span', { class: 'muted small' }, `${v.authorName || ''} · ${formatTime(v.createdAt)}${v.changedFields?.length ? ` · ${v.changedFields.join(', ')}` : ''}${v.comment ? ` · “${v.comment}”` : ''}`),
        ' ', revert);
    }));
    if (!items.length) versions.replaceChildren(h('li', { class: 'muted' }, t('meta.noVersions')));
  };

  const details = h('details', { class: 'card meta-card', testid: 'meta-section' },
    h('summary', {}, h('h2', { class: 'inline' }, t('meta.title')), script.edited ? h('span', { class: 'badge badge-tag' }, `v${script.metadataVersion}`) : null),
    form,
    h('h3', {}, t('meta.versions')), versions);
  let opened = false;
  details.addEventListener('toggle', () => {
    if (!details.open || opened) return;
    opened = true;
    loadLanguage(langSelect.value).catch(showError);
    loadVersions().catch(showError);
  });
  return details;
}

export async function renderScript(root, groupId, file, stale, { announce, showError, rerender }) {
  let script;
  try {
    script = await api(`/api/v1/scripts/${encodeURIComponent(groupId)}/${encodeURIComponent(file)}?language=${getLanguage()}`);
  } catch (error) {
    if (stale()) return;
    if (error.status === 404) {
      root.append(h('p', { class: 'banner banner-error', testid: 'script-missing' }, t('script.missing', { id: `${groupId}/${file}` })));
      return;
    }
    throw error;
  }
  if (stale()) return;
  document.title = `${script.name} · Scriptorium`;
  const lang = getLanguage();
  const fields = parameterFields(script.parameters ?? [], lang, 'p');
  const picker = projectPicker(groupId, { showError });
  const formError = h('p', { class: 'banner banner-error', role: 'alert', testid: 'run-form-error', hidden: true });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', testid: 'run-submit', disabled: script.valid === false }, t('script.run'));
  const form = h('form', { class: 'card run-form', testid: 'run-form', novalidate: true, 'aria-labelledby': 'script-title' },
    picker.element,
    h('h2', {}, t('script.parameters')),
    fields.element,
    formError,
    h('div', { class: 'form-actions' }, submit,
      h('span', { class: 'muted small' }, script.timeoutSeconds ? t('script.timesOut', { d: formatDuration(script.timeoutSeconds * 1000) }) : t('script.noLimit'))));

  root.append(
    h('div', { class: 'page-head' },
      h('div', {},
        h('p', { class: 'crumbs' }, h('a', { href: '#/' }, t('nav.scripts')), ' / ', h('a', { href: `#/groups/${encodeURIComponent(groupId)}` }, groupId), ' / '),
        h('h1', { id: 'script-title', testid: 'script-title' }, script.name || script.file),
        h('p', { class: 'muted', testid: 'script-description' }, script.description || ''),
        h('p', { class: 'meta' }, h('code', {}, script.id),
          script.interactive ? h('span', { class: 'badge badge-interactive', testid: 'script-interactive' }, t('script.interactive')) : null,
          h('span', { class: 'badge badge-soft' }, `${script.requiredLevel}+`),
          ...(script.tags ?? []).map((x) => h('span', { class: 'badge badge-tag' }, x))))),
    ...(script.valid === false ? [h('p', { class: 'banner banner-error', testid: 'script-invalid' }, h('strong', {}, t('script.cannotRun')), script.error || 'invalid header')] : []),
    h('div', { class: 'script-layout' },
      h('div', { class: 'script-col' }, form, tagsSection(script, { announce, showError })),
      h('div', { class: 'script-col' }, docsSection(script), canEdit() ? metadataSection(script, { announce, showError, rerender }) : null)));

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
      await picker.ready;
      const projectId = picker.selectedId();
      const execution = await api('/api/v1/executions', {
        method: 'POST',
        headers: { 'Idempotency-Key': idempotencyKey },
        body: { scriptId: script.id, parameters: fields.collect(), ...(projectId ? { projectId } : {}) },
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
