import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ScriptDefinition } from '../discovery/loader.js';
import { applyEdit, applyOverrides, editedFields } from './overrides.js';
import { checkTags, tagsMatch } from './tags.js';

const base: ScriptDefinition = {
  id: 'g/a.py', groupId: 'g', file: 'a.py', path: '/sg/g/a.py', name: { en: 'A' }, description: { en: 'From header', es: 'Del encabezado' },
  docs: { en: '# Doc' }, requiredLevel: 'operator', category: 'ops', tags: ['x'], declaredParameters: [], parameters: [], timeoutSeconds: 60,
  interactive: false, valid: false, error: 'line 5: @parameters is not valid JSON: bad', interpreter: 'python3', image: 'py', extra: {},
};
const edit = (e: object, reset: string[] = []) => ({ edit: { description: undefined, longDescription: undefined, tags: undefined, ...e }, resetFields: reset });

describe('metadata edits', () => {
  it('edits win over the header per field and per language', () => {
    const { overrides, errors, changed } = applyEdit({}, edit({ description: { values: { es: 'Editada' } }, tags: { tags: ['ETL', 'etl', ' daily '] }, timeoutSeconds: 0 }), 'viewer');
    assert.deepEqual(errors, {});
    assert.deepEqual(changed.sort(), ['description', 'tags', 'timeout_seconds']);
    const view = applyOverrides(base, overrides, 'viewer');
    assert.deepEqual(view.description, { en: 'From header', es: 'Editada' });
    assert.deepEqual(view.tags, ['etl', 'daily']);
    assert.equal(view.timeoutSeconds, 0);
    assert.equal(view.category, 'ops');
    assert.deepEqual(editedFields(overrides).sort(), ['description', 'tags', 'timeout_seconds']);
  });

  it('an edit of the parameters replaces the broken header parameters and their error', () => {
    const { overrides, errors } = applyEdit({}, edit({ parametersJson: '[{"name": "n", "type": "integer", "max": 5}]' }), 'viewer');
    assert.deepEqual(errors, {});
    const view = applyOverrides(base, overrides, 'viewer');
    assert.equal(view.valid, true);
    assert.equal(view.parameters[0].max, 5);
  });

  it('reports every bad field by name', () => {
    const { errors } = applyEdit(
      {},
      edit({
        description: { values: { de: 'Hallo', en: 'two\nlines' } },
        requiredLevel: 'root',
        tags: { tags: ['ok', 'has space', 'x'.repeat(31)] },
        parametersJson: '[{"name": "port"}]',
        timeoutSeconds: -1,
      }),
      'viewer',
    );
    assert.deepEqual(Object.keys(errors).sort(), ['description.de', 'description.en', 'parameters', 'required_level', 'tags[1]', 'tags[2]', 'timeout_seconds']);
    assert.match(errors.parameters, /reserved/);
    assert.match(errors['tags[2]'], /at most 30/);
  });

  it('refuses a level below the group, and an empty edit', () => {
    assert.match(applyEdit({}, edit({ requiredLevel: 'viewer' }), 'developer').errors.required_level, /group requires developer/);
    assert.match(applyEdit({}, edit({}), 'viewer').errors.edit, /nothing to change/);
  });

  it('reset drops one field; an empty text drops one language', () => {
    const first = applyEdit({}, edit({ category: 'new', description: { values: { en: 'E', es: 'S' } } }), 'viewer').overrides;
    const second = applyEdit(first, edit({ description: { values: { es: '' } } }, ['category']), 'viewer').overrides;
    assert.deepEqual(second, { description: { en: 'E' } });
    assert.match(applyEdit(first, edit({}, ['name']), 'viewer').errors.reset_fields, /not an editable field/);
  });
});

describe('tags', () => {
  it('enforces 20 tags, 30 characters and letters/digits/_/-', () => {
    assert.deepEqual(checkTags(['A-b_1', 'a-b_1']), { tags: ['a-b_1'], errors: {} });
    const many = checkTags(Array.from({ length: 21 }, (_, i) => `t${i}`));
    assert.equal(many.errors.tags, '21 tags; at most 20 per script');
    assert.equal(checkTags(Array.from({ length: 20 }, (_, i) => `t${i}`)).errors.tags, undefined);
    assert.match(checkTags(['é']).errors['tags[0]'], /only letters, digits/);
    assert.match(checkTags(['<b>']).errors['tags[0]'], /only letters, digits/);
    assert.equal(checkTags('a,b').errors.tags, 'must be a list of tags');
  });

  it('matches all or any', () => {
    const have = new Set(['a', 'b']);
    assert.equal(tagsMatch(have, ['a', 'b'], 'all'), true);
    assert.equal(tagsMatch(have, ['a', 'c'], 'all'), false);
    assert.equal(tagsMatch(have, ['a', 'c'], 'any'), true);
    assert.equal(tagsMatch(have, ['c'], 'any'), false);
  });
});
