import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { GroupDefinition, ScriptDefinition } from '../discovery/loader.js';
import type { Language, Level } from '#contracts/levels.js';
import { CatalogIndex } from './catalog-index.js';
import { canSee, scriptMessage } from './catalog-views.js';
import { planSync } from './catalog.store.js';

function group(id: string, requiredLevel: GroupDefinition['requiredLevel']): GroupDefinition {
  return { id, name: { en: id.toUpperCase(), es: `es-${id}` }, description: { en: `about ${id}` }, icon: 'x', requiredLevel, category: '', environment: { interpreters: {} }, autoDiscovery: true, problems: [] };
}

function script(id: string, requiredLevel: ScriptDefinition['requiredLevel'], extra: Partial<ScriptDefinition> = {}): ScriptDefinition {
  const [groupId, file] = id.split('/');
  return {
    id, groupId, file, path: `/sg/${id}`, name: { en: file }, description: { en: 'Does things' }, docs: {}, requiredLevel,
    category: 'misc', tags: [], declaredParameters: [], parameters: [], timeoutSeconds: 0, interactive: false, valid: true,
    error: '', interpreter: '/usr/bin/python3', image: 'python:3.12-slim', extra: {}, ...extra,
  };
}

describe('level filtering', () => {
  const groups = [group('ops', 'operator'), group('admin', 'admin'), group('all', 'viewer')];
  const scripts = [
    script('ops/a.py', 'operator'),
    script('ops/dev.py', 'developer'),
    script('admin/b.py', 'admin'),
    script('all/c.py', 'viewer'),
    script('all/d.py', 'admin'),
  ];
  const indexOf = (g: GroupDefinition[], s: ScriptDefinition[]) => {
    const index = new CatalogIndex();
    index.applySnapshot({ groups: g, scripts: s.map((definition) => ({ definition, source: '' })) });
    return index;
  };

  it('canSee follows the level order and never shows an unknown level', () => {
    assert.equal(canSee('developer', 'operator'), true);
    assert.equal(canSee('operator', 'developer'), false);
    assert.equal(canSee('admin', 'superuser'), false);
  });

  it('shows each caller only the groups and script counts at or below their level, also after a change', () => {
    const index = indexOf(groups, scripts);
    const view = (level: Level) => index.visibleGroups(level, 'en').map((g) => `${g.id}:${g.scriptCount}`);
    assert.deepEqual(view('viewer'), ['all:1']);
    assert.deepEqual(view('operator'), ['all:1', 'ops:1']);
    assert.deepEqual(view('developer'), ['all:1', 'ops:2']);
    assert.deepEqual(view('admin'), ['admin:1', 'all:2', 'ops:2']);
    // A rescan of one group adds a script: the lists built before are not served again.
    index.applySnapshot({ groups: [group('all', 'viewer')], scripts: [script('all/c.py', 'viewer'), script('all/e.py', 'viewer')].map((definition) => ({ definition, source: '' })) }, ['all']);
    assert.deepEqual(view('viewer'), ['all:2']);
    assert.deepEqual(view('admin'), ['admin:1', 'all:2', 'ops:2']);
  });

  it('answers in the requested language, falling back to English', () => {
    const [first] = indexOf([group('ops', 'viewer')], []).visibleGroups('viewer', 'es');
    assert.equal(first.name, 'es-ops');
    assert.equal(first.description, 'about ops');
  });
});

describe('text search', () => {
  const s = script('g/backup.py', 'viewer', { name: { en: 'System Backup', es: 'Copia' }, description: { en: 'Archive data', es: 'Archiva datos' }, tags: ['Storage'] });
  const index = new CatalogIndex();
  index.applySnapshot({ groups: [group('g', 'viewer')], scripts: [{ definition: s, source: '' }] });
  const matches = (query: string, language: Language) => index.find({ level: 'viewer', language, query }).length === 1;
  it('matches name, description, tags and file, ignoring case', () => {
    for (const q of ['', 'system', 'ARCHIVE', 'storage', 'backup.py', 'copia', 'datos']) assert.equal(matches(q, 'es'), true, q);
    assert.equal(matches('nothing', 'en'), false);
  });
});

describe('scriptMessage', () => {
  const s = script('g/greet.py', 'operator', {
    name: { en: 'Greeter', it: 'Salutatore' },
    declaredParameters: [{ name: 'who', type: 'string', required: true, description: { en: 'Who', it: 'Chi' } }],
    parameters: [{ name: 'who', type: 'string', required: true, description: { en: 'Who', it: 'Chi' } }],
  });
  it('lists without a runtime and gets with one', () => {
    const listed = scriptMessage(s, 'it');
    assert.equal(listed.runtime, undefined);
    assert.equal(listed.name, 'Salutatore');
    assert.equal(listed.description, 'Does things');
    assert.deepEqual(JSON.parse(listed.parametersJson), s.declaredParameters);
    const schema = JSON.parse(listed.parametersSchemaJson);
    assert.equal(schema.properties.who.description, 'Chi');
    assert.deepEqual(schema.required, ['who']);
    const got = scriptMessage(s, 'en', 'print(1)\n');
    assert.deepEqual(got.runtime, { path: '/sg/g/greet.py', interpreter: '/usr/bin/python3', image: 'python:3.12-slim', source: 'print(1)\n' });
  });
});

describe('planSync', () => {
  const snapshot = (defs: ScriptDefinition[], sources: string[] = defs.map(() => 'x')) => ({
    groups: [group('g', 'viewer')],
    scripts: defs.map((definition, i) => ({ definition, source: sources[i] })),
  });

  it('writes only what changed and reports added, changed and removed scripts', () => {
    const first = planSync(new Map(), new Map(), snapshot([script('g/a.py', 'viewer'), script('g/b.py', 'viewer')]));
    assert.deepEqual(first.changes, { added: ['g/a.py', 'g/b.py'], changed: [], removed: [], groupsChanged: true });
    const storedGroups = new Map(first.groupRows.map((r) => [r.id, r.hash]));
    const storedScripts = new Map(first.scriptRows.map((r) => [r.id, r.hash]));

    const same = planSync(storedGroups, storedScripts, snapshot([script('g/a.py', 'viewer'), script('g/b.py', 'viewer')]));
    assert.deepEqual(same.changes, { added: [], changed: [], removed: [], groupsChanged: false });
    assert.equal(same.scriptRows.length + same.groupRows.length, 0);

    const next = planSync(storedGroups, storedScripts, snapshot([script('g/a.py', 'viewer'), script('g/c.py', 'viewer')], ['y', 'x']));
    assert.deepEqual(next.changes, { added: ['g/c.py'], changed: ['g/a.py'], removed: ['g/b.py'], groupsChanged: false });

    const gone = planSync(storedGroups, storedScripts, { groups: [], scripts: [] });
    assert.deepEqual(gone.removedGroups, ['g']);
    assert.deepEqual(gone.changes.removed, ['g/a.py', 'g/b.py']);
  });
});
