import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatProblem, parseJsonWithLine, parseScriptHeader } from './header-parser.js';
import { SEED_EXAMPLE } from './seed-example.fixture.js';


describe('parseScriptHeader', () => {
  it('parses the seed example exactly', () => {
    const { header, problems } = parseScriptHeader(SEED_EXAMPLE);
    assert.deepEqual(problems, []);
    assert.deepEqual(header, {
      found: true,
      line: 2,
      name: {},
      description: {
        en: 'Creates a complete system backup with compression options',
        es: 'Crea una copia de seguridad completa del sistema con opciones de compresión',
        it: 'Crea un backup completo del sistema con opzioni di compressione',
        fr: 'Crée une sauvegarde complète du système avec options de compression',
      },
      descriptionLong: {
        en: 'docs/backup_system.md',
        es: 'docs/backup_system_es.md',
        it: 'docs/backup_system_it.md',
        fr: 'docs/backup_system_fr.md',
      },
      requiredLevel: 'admin',
      category: 'backup',
      tags: ['system', 'maintenance', 'storage'],
      parameters: [
        { name: 'destination', type: 'path', required: true, description: 'Backup destination directory' },
        { name: 'compression', type: 'select', options: ['none', 'gzip', 'bzip2'], default: 'gzip' },
      ],
      parametersLine: 14,
      executionTimeout: 3600,
      flaskPort: 5200,
      extra: {},
    });
  });

  it('accepts a shebang, the marker on the quote line and single quotes', () => {
    const source = "#!/usr/bin/env python3\n# -*- coding: utf-8 -*-\n'''ScriptsManager Metadata:\n@description: Hi\n@interactive: true\n@name: Greeter\n@name_es: Saludador\n'''\nprint(1)\n";
    const { header, problems } = parseScriptHeader(source);
    assert.deepEqual(problems, []);
    assert.equal(header.line, 3);
    assert.deepEqual(header.description, { en: 'Hi' });
    assert.deepEqual(header.name, { en: 'Greeter', es: 'Saludador' });
    assert.equal(header.interactive, true);
  });

  it('reads a shell "#" comment block and stops at the first non-comment line', () => {
    const source = [
      '#!/bin/bash',
      '# ScriptsManager Metadata:',
      '# @description: Disk usage',
      '# @tags: disk, shell ,',
      '# @parameters: [',
      '#   {"name": "depth", "type": "integer"}',
      '# ]',
      'set -e',
      '# @category: not-part-of-the-header',
    ].join('\n');
    const { header, problems } = parseScriptHeader(source);
    assert.deepEqual(problems, []);
    assert.deepEqual(header.description, { en: 'Disk usage' });
    assert.deepEqual(header.tags, ['disk', 'shell']);
    assert.deepEqual(header.parameters, [{ name: 'depth', type: 'integer' }]);
    assert.equal(header.category, undefined);
  });

  it('reads "//" comments and /* */ blocks for JavaScript', () => {
    const slashes = parseScriptHeader('// ScriptsManager Metadata:\n// @description: JS tool\n// @required_level: developer\nconsole.log(1)\n');
    assert.deepEqual(slashes.problems, []);
    assert.equal(slashes.header.requiredLevel, 'developer');
    const block = parseScriptHeader('/**\n * ScriptsManager Metadata:\n * @description: Block\n * @execution_timeout: 12\n */\nconsole.log(1)\n');
    assert.deepEqual(block.problems, []);
    assert.deepEqual(block.header.description, { en: 'Block' });
    assert.equal(block.header.executionTimeout, 12);
  });

  it('joins wrapped text lines, ends them at a blank line and ignores prose', () => {
    const source = '"""\nScriptsManager Metadata:\n@description: A long\n  description\n\nSome prose: not a value.\n@category: tools\n@parameters: []\nMore prose after the array.\n"""\n';
    const { header, problems } = parseScriptHeader(source);
    assert.deepEqual(problems, []);
    assert.deepEqual(header.description, { en: 'A long description' });
    assert.equal(header.category, 'tools');
    assert.deepEqual(header.parameters, []);
  });

  it('reports no header for a file without the marker', () => {
    const { header, problems } = parseScriptHeader('"""Just a docstring."""\nprint(1)\n');
    assert.equal(header.found, false);
    assert.deepEqual(problems, []);
  });

  it('reports invalid @parameters JSON with the line of the mistake', () => {
    const source = [
      '"""', // 1
      'ScriptsManager Metadata:', // 2
      '@description: Broken', // 3
      '@parameters: [', // 4
      '  {"name": "a", "type": "string"},', // 5
      '  {"name": "b", "type": "integer",}', // 6: trailing comma
      ']', // 7
      '@required_level: operator', // 8
      '"""',
    ].join('\n');
    const { header, problems } = parseScriptHeader(source);
    assert.equal(problems.length, 1);
    assert.equal(problems[0].line, 6);
    assert.match(formatProblem(problems[0]), /^line 6: @parameters is not valid JSON: /);
    assert.equal(header.parameters, undefined);
    // The rest of the header is still read.
    assert.equal(header.requiredLevel, 'operator');
    assert.deepEqual(header.description, { en: 'Broken' });
  });

  it('locates errors V8 reports without a position (single quotes, unclosed arrays)', () => {
    const quotes = parseScriptHeader("\"\"\"\nScriptsManager Metadata:\n@parameters: [\n  {\"name\": 'a'}\n]\n\"\"\"\n");
    assert.equal(quotes.problems[0].line, 4);
    const unclosed = parseScriptHeader('"""\nScriptsManager Metadata:\n@parameters: [\n  {"name": "a"}\n@category: x\n"""\n');
    assert.equal(unclosed.problems.length, 1);
    assert.match(unclosed.problems[0].message, /@parameters is not valid JSON/);
    assert.equal(unclosed.header.category, 'x');
  });

  it('rejects an unknown level, bad numbers and booleans, naming the line', () => {
    const source = '"""\nScriptsManager Metadata:\n@required_level: superuser\n@execution_timeout: soon\n@interactive: maybe\n@flask_port: 99999\n@description_de: Hallo\n"""\n';
    const { header, problems } = parseScriptHeader(source);
    assert.deepEqual(
      problems.map(formatProblem),
      [
        'line 3: @required_level "superuser" is not a level (use viewer, operator, developer, admin)',
        'line 4: @execution_timeout "soon" must be a whole number of seconds above 0',
        'line 5: @interactive "maybe" must be true or false',
        'line 6: @flask_port "99999" must be a port number',
        'line 7: @description_de: language "de" is not supported (use en, es, it, fr)',
      ],
    );
    assert.equal(header.requiredLevel, undefined);
  });

  it('reports a docstring that is never closed', () => {
    const { problems } = parseScriptHeader('"""\nScriptsManager Metadata:\n@description: x\n');
    assert.deepEqual(problems.map(formatProblem), ['line 2: the metadata docstring is never closed (missing """)']);
  });

  it('keeps unknown keys as extras', () => {
    const { header } = parseScriptHeader('"""\nScriptsManager Metadata:\n@author: Ana\n"""\n');
    assert.deepEqual(header.extra, { author: 'Ana' });
  });
});

describe('parseJsonWithLine', () => {
  it('returns the value or the line of the error', () => {
    assert.deepEqual(parseJsonWithLine('{"a": 1}'), { value: { a: 1 } });
    const bad = parseJsonWithLine('{\n  "a": 1,\n  "b": 2,\n}\n');
    assert.equal(bad.error?.line, 4);
  });
});
