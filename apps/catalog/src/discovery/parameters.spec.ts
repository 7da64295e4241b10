import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { buildParametersSchema, parseParameters, TYPE_ANNOTATION } from './parameters.js';

const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv2020) => void;

function validator(schema: Record<string, unknown>) {
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  addFormats(ajv);
  for (const keyword of [TYPE_ANNOTATION, 'x-scriptorium-option-labels', 'x-scriptorium-placeholder']) ajv.addKeyword(keyword);
  return ajv.compile(schema);
}

const ALL_TYPES = [
  { name: 'title', type: 'string', required: true, pattern: '^[a-z]+$', description: { en: 'Title', es: 'Título' } },
  { name: 'notes', type: 'text' },
  { name: 'count', type: 'integer', min: 1, max: 10, default: 1 },
  { name: 'ratio', type: 'number', minimum: 0, maximum: 1.5 },
  { name: 'dry_run', type: 'boolean', default: false },
  { name: 'mode', type: 'select', options: ['fast', { value: 'safe', label: { en: 'Safe', fr: 'Sûr' } }], default: 'safe' },
  { name: 'targets', type: 'multiselect', options: ['a', 'b', 'c'], default: ['a'] },
  { name: 'since', type: 'date' },
  { name: 'folder', type: 'path' },
  { name: 'token', type: 'secret' },
  { name: 'upload', type: 'file' },
];

describe('parseParameters', () => {
  it('accepts every type', () => {
    const { parameters, problems } = parseParameters(ALL_TYPES);
    assert.deepEqual(problems, []);
    assert.equal(parameters.length, 11);
    assert.deepEqual(parameters[2], { name: 'count', type: 'integer', required: false, min: 1, max: 10, default: 1 });
    assert.deepEqual(parameters[3].max, 1.5);
  });

  it('names each problem by position and name', () => {
    const { parameters, problems } = parseParameters([
      { name: 'a', type: 'int' },
      { name: 'b', type: 'integer', min: 5, max: 1 },
      { name: 'c', type: 'select' },
      { name: 'd', type: 'integer', max: 3, default: 7 },
      { name: 'd', type: 'string' },
      { name: 'port', type: 'integer' },
      { name: '--x' },
      { name: 'e', type: 'string', pattern: '(' },
      { name: 'f', type: 'secret', default: 'x' },
      'nope',
      { name: 'g', type: 'date', default: '2025-02-30' },
      { name: 'h', required: 'yes' },
    ]);
    assert.deepEqual(problems, [
      'parameter 1 ("a"): type "int" is unknown (use string, text, integer, number, boolean, select, multiselect, date, path, secret, file)',
      'parameter 2 ("b"): min 5 is above max 1',
      'parameter 3 ("c"): "options" must be a non-empty array',
      'parameter 4 ("d"): default 7 must be at most 3',
      'parameter 5 ("d"): the name is used twice',
      'parameter 6 ("port"): the name is reserved for a standard argument',
      'parameter 7: "name" must be letters, digits, "_" or "-", starting with a letter (got "--x")',
      problems[7],
      'parameter 9 ("f"): a secret cannot have a default',
      'parameter 10 must be an object',
      'parameter 11 ("g"): default "2025-02-30" must be a date as YYYY-MM-DD',
      'parameter 12 ("h"): "required" must be true or false',
    ]);
    assert.match(problems[7], /^parameter 8 \("e"\): "pattern" is not a valid regular expression/);
    assert.ok(parameters.some((p) => p.name === 'h' && p.type === 'string'));
  });

  it('rejects a non-array', () => {
    assert.deepEqual(parseParameters({ name: 'x' }).problems, ['parameters must be a JSON array of objects']);
  });
});

describe('buildParametersSchema', () => {
  const { parameters } = parseParameters(ALL_TYPES);

  it('produces a draft 2020-12 object schema with one annotated property per parameter', () => {
    const schema = buildParametersSchema(parameters, 'en');
    assert.equal(schema.$schema, 'https://json-schema.org/draft/2020-12/schema');
    assert.equal(schema.type, 'object');
    assert.equal(schema.additionalProperties, false);
    assert.deepEqual(schema.required, ['title']);
    const p = schema.properties as Record<string, Record<string, unknown>>;
    assert.deepEqual(p.title, {
      title: 'title',
      description: 'Title',
      type: 'string',
      minLength: 1,
      pattern: '^[a-z]+$',
      [TYPE_ANNOTATION]: 'string',
    });
    assert.deepEqual(p.count, { title: 'count', type: 'integer', minimum: 1, maximum: 10, default: 1, [TYPE_ANNOTATION]: 'integer' });
    assert.deepEqual(p.ratio, { title: 'ratio', type: 'number', minimum: 0, maximum: 1.5, [TYPE_ANNOTATION]: 'number' });
    assert.deepEqual(p.dry_run, { title: 'dry_run', type: 'boolean', default: false, [TYPE_ANNOTATION]: 'boolean' });
    assert.deepEqual(p.mode.enum, ['fast', 'safe']);
    assert.deepEqual(p.mode['x-scriptorium-option-labels'], { fast: 'fast', safe: 'Safe' });
    assert.deepEqual(p.targets, {
      title: 'targets',
      type: 'array',
      items: { type: 'string', enum: ['a', 'b', 'c'] },
      uniqueItems: true,
      default: ['a'],
      [TYPE_ANNOTATION]: 'multiselect',
    });
    assert.deepEqual(p.since, { title: 'since', type: 'string', format: 'date', [TYPE_ANNOTATION]: 'date' });
    assert.equal(p.notes[TYPE_ANNOTATION], 'text');
    assert.equal(p.folder[TYPE_ANNOTATION], 'path');
    assert.equal(p.token[TYPE_ANNOTATION], 'secret');
    assert.equal(p.token.writeOnly, true);
    assert.equal(p.upload[TYPE_ANNOTATION], 'file');
  });

  it('localizes descriptions and option labels, falling back to English', () => {
    const schema = buildParametersSchema(parameters, 'es');
    const p = schema.properties as Record<string, Record<string, unknown>>;
    assert.equal(p.title.description, 'Título');
    assert.deepEqual(p.mode['x-scriptorium-option-labels'], { fast: 'fast', safe: 'Safe' });
    const fr = buildParametersSchema(parameters, 'fr').properties as Record<string, Record<string, unknown>>;
    assert.equal(fr.title.description, 'Title');
    assert.deepEqual(fr.mode['x-scriptorium-option-labels'], { fast: 'fast', safe: 'Sûr' });
  });

  it('compiles in Ajv (strict) and validates values as declared', () => {
    const validate = validator(buildParametersSchema(parameters));
    const good = { title: 'abc', count: 3, ratio: 0.5, dry_run: true, mode: 'fast', targets: ['a', 'c'], since: '2025-01-31', token: 's' };
    assert.equal(validate(good), true, JSON.stringify(validate.errors));
    for (const bad of [
      {},
      { title: '' },
      { title: 'ABC' },
      { title: 'a', count: 0 },
      { title: 'a', count: 1.5 },
      { title: 'a', ratio: 2 },
      { title: 'a', mode: 'slow' },
      { title: 'a', targets: ['a', 'a'] },
      { title: 'a', targets: ['z'] },
      { title: 'a', since: '31/01/2025' },
      { title: 'a', extra: 1 },
      { title: 'a', dry_run: 'yes' },
    ]) {
      assert.equal(validate(bad), false, JSON.stringify(bad));
    }
  });

  it('gives an empty object schema for a script without parameters', () => {
    const validate = validator(buildParametersSchema([]));
    assert.equal(validate({}), true);
    assert.equal(validate({ x: 1 }), false);
  });
});
