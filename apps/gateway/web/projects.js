// Projects: the picker on the run form (per script group: choose the active one, create, rename,
// delete) and a project's files (list, download, upload, delete).
import { api, download } from './api.js';
import { formatTime, h } from './dom.js';
import { t } from './i18n.js';

export function formatBytes(n) {
  const v = Number(n) || 0;
  if (v < 1024) return `${v} B`;
  if (v < 1024 * 1024) return `${(v / 1024).toFixed(1)} KiB`;
  return `${(v / 1024 / 1024).toFixed(1)} MiB`;
}

const projectName = (p) => (p.isDefault ? `${p.name} (${t('project.default')})` : p.name);

/**
 * The project picker of a group. Choosing a project makes it the active one (the server then
 * uses it for runs that name none; the form also names it). Returns {element, selectedId(), ready}.
 */
export function projectPicker(groupId, { showError }) {
  const select = h('select', { id: 'project-select', testid: 'project-select', 'aria-describedby': 'project-help' });
  const newButton = h('button', { type: 'button', class: 'btn btn-small', testid: 'project-new' }, t('project.new'));
  const renameButton = h('button', { type: 'button', class: 'btn btn-small', testid: 'project-rename' }, t('project.rename'));
  const deleteButton = h('button', { type: 'button', class: 'btn btn-small btn-danger', testid: 'project-delete' }, t('project.delete'));
  const filesLink = h('a', { class: 'btn btn-small', testid: 'project-files', href: '#/' }, t('project.files'));
  const element = h('div', { class: 'field project-field', testid: 'project-picker' },
    h('label', { for: 'project-select' }, t('project.label')),
    h('div', { class: 'project-row' }, select, newButton, renameButton, deleteButton, filesLink));
  let projects = [];

  const current = () => projects.find((p) => p.id === select.value);
  const sync = () => {
    const p = current();
    renameButton.disabled = !p || p.isDefault;
    deleteButton.disabled = !p || p.isDefault;
    filesLink.href = p ? `#/projects/${encodeURIComponent(p.id)}` : '#/';
    element.dataset.projectId = p?.id ?? '';
  };

  const load = async (selectId) => {
    const answer = await api(`/api/v1/projects?groupId=${encodeURIComponent(groupId)}`);
    projects = answer.items ?? [];
    const active = selectId ?? projects.find((p) => p.isActive)?.id ?? projects.find((p) => p.isDefault)?.id;
    select.replaceChildren(...projects.map((p) => h('option', { value: p.id, selected: p.id === active }, projectName(p))));
    if (active) select.value = active;
    sync();
  };

  const activate = async (id) => {
    await api('/api/v1/projects/active', { method: 'PUT', body: { groupId, projectId: id } });
  };

  select.addEventListener('change', async () => {
    sync();
    try {
      await activate(select.value);
      element.dataset.activeProjectId = select.value;
    } catch (error) {
      showError(error);
    }
  });

  newButton.addEventListener('click', async () => {
    const name = window.prompt(t('project.namePrompt'))?.trim();
    if (!name) return;
    try {
      const project = await api('/api/v1/projects', { method: 'POST', body: { groupId, name } });
      await activate(project.id);
      await load(project.id);
      element.dataset.activeProjectId = project.id;
    } catch (error) {
      showError(error);
    }
  });

  renameButton.addEventListener('click', async () => {
    const p = current();
    if (!p) return;
    const name = window.prompt(t('project.renamePrompt'), p.name)?.trim();
    if (!name || name === p.name) return;
    try {
      await api(`/api/v1/projects/${encodeURIComponent(p.id)}`, { method: 'PATCH', body: { name } });
      await load(p.id);
    } catch (error) {
      showError(error);
    }
  });

  deleteButton.addEventListener('click', async () => {
    const p = current();
    if (!p || !window.confirm(t('project.deleteConfirm', { name: p.name }))) return;
    try {
      await api(`/api/v1/projects/${encodeURIComponent(p.id)}`, { method: 'DELETE' });
      await load();
      // The server falls back to the default project; make that explicit.
      if (select.value) await activate(select.value);
    } catch (error) {
      showError(error);
    }
  });

  const ready = load().catch(showError);
  return { element, selectedId: () => select.value || undefined, ready };
}

/** #/projects/<id>: the project's files, recursively, with download, upload and delete. */
export async function renderProjectFiles(root, projectId, stale, { showError, announce }) {
  const project = await api(`/api/v1/projects/${encodeURIComponent(projectId)}`);
  if (stale()) return;
  document.title = `${t('files.title', { name: project.name })} · Scriptorium`;
  const body = h('tbody', { testid: 'file-rows' });
  const empty = h('p', { class: 'muted', testid: 'files-empty', hidden: true }, t('files.empty'));
  const limit = h('span', { class: 'muted small', testid: 'files-limit' });
  const fileInput = h('input', { type: 'file', id: 'file-upload', testid: 'file-upload', multiple: true, class: 'sr-only' });
  const uploadLabel = h('label', { for: 'file-upload', class: 'btn btn-primary', testid: 'file-upload-button', tabindex: '0' }, t('files.upload'));
  uploadLabel.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      fileInput.click();
    }
  });
  const base = `/api/v1/projects/${encodeURIComponent(projectId)}/files`;
  const encodePath = (path) => path.split('/').map(encodeURIComponent).join('/');

  root.append(
    h('div', { class: 'page-head' },
      h('div', {},
        h('p', { class: 'crumbs' }, h('a', { href: `#/groups/${encodeURIComponent(project.groupId)}` }, project.groupId), ' / ', t('project.files')),
        h('h1', { testid: 'files-title' }, t('files.title', { name: project.name }))),
      h('div', { class: 'actions' }, limit, fileInput, uploadLabel)),
    h('div', { class: 'card table-card' },
      h('table', { class: 'table', testid: 'files-table' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('files.name')), h('th', { scope: 'col' }, t('files.size')), h('th', { scope: 'col' }, t('files.modified')), h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, t('files.download'))))),
        body)),
    empty);

  const load = async () => {
    const answer = await api(`${base}?recursive=true`);
    if (stale()) return;
    if (answer.maxFileBytes) limit.textContent = t('files.limit', { size: formatBytes(answer.maxFileBytes) });
    const items = [...(answer.items ?? [])].sort((a, b) => a.path.localeCompare(b.path));
    body.replaceChildren(...items.map(row));
    empty.hidden = items.length > 0;
  };

  const row = (entry) => {
    const isDir = entry.type === 'directory';
    const downloadButton = isDir ? null : h('button', { type: 'button', class: 'btn btn-small', testid: 'file-download' }, t('files.download'));
    const deleteButton = h('button', { type: 'button', class: 'btn btn-small btn-danger', testid: 'file-delete' }, t('files.delete'));
    downloadButton?.addEventListener('click', () => download(`${base}/${encodePath(entry.path)}`, entry.name).catch(showError));
    deleteButton.addEventListener('click', async () => {
      if (!window.confirm(t('files.deleteConfirm', { path: entry.path }))) return;
      try {
        await api(`${base}/${encodePath(entry.path)}${isDir ? '?recursive=true' : ''}`, { method: 'DELETE' });
        await load();
      } catch (error) {
        showError(error);
      }
    });
    return h('tr', { testid: 'file-row', dataset: { path: entry.path, type: entry.type } },
      h('td', {}, h('code', { testid: 'file-path' }, entry.path), isDir ? h('span', { class: 'badge badge-soft' }, t('files.folder')) : null),
      h('td', { testid: 'file-size' }, isDir ? '—' : formatBytes(entry.size)),
      h('td', {}, formatTime(entry.modifiedAt)),
      h('td', {}, h('div', { class: 'actions end' }, downloadButton, deleteButton)));
  };

  fileInput.addEventListener('change', async () => {
    const files = [...(fileInput.files ?? [])];
    fileInput.value = '';
    for (const file of files) {
      try {
        await api(`${base}/${encodePath(file.name)}`, { method: 'PUT', rawBody: file });
        announce(t('files.uploaded', { name: file.name }));
      } catch (error) {
        showError(error);
      }
    }
    await load().catch(showError);
  });

  await load();
}
