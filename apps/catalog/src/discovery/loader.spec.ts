import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { PROJECT_ROOT } from '#common/paths.js';
import { SEED_EXAMPLE } from './seed-example.fixture.js';
import { buildScript, discoverCatalog, parseGroupMetadata, parseOverrides, type DiscoveryOptions, type ScriptDefinition } from './loader.js';

const OPTIONS: DiscoveryOptions = { pythonInterpreter: '/opt/py/bin/python3', defaultImage: 'python:3.12-slim', nodeImage: 'node:20-slim' };

/** The seed's metadata.json example. */
const SEED_GROUP = {
  name: 'System Administration',
  description: {
    en: 'System administration and maintenance scripts',
    es: 'Scripts de administración y mantenimiento del sistema',
    it: 'Script di amministrazione e manutenzione del sistema',
    fr: "Scripts d'administration et de maintenance du système",
  },
  icon: 'server',
  required_level: 'operator',
  category: 'system',
  conda_environment: 'base',
  auto_discovery: true,
  execution_timeout: 300,
};

/** The seed's script_metadata.json example. */
const SEED_OVERRIDES = {
  'backup_system.py': {
    display_name: { en: 'System Backup', es: 'Copia de Seguridad del Sistema', it: 'Backup del Sistema', fr: 'Sauvegarde du Système' },
    description: {
      en: 'Creates a complete system backup',
      es: 'Crea una copia de seguridad completa del sistema',
      it: 'Crea un backup completo del sistema',
      fr: 'Crée une sauvegarde complète du système',
    },
    description_long: { en: 'docs/backup_system.md', es: 'docs/backup_system_es.md', it: 'docs/backup_system_it.md', fr: 'docs/backup_system_fr.md' },
    tags: ['system', 'maintenance', 'storage'],
    required_level: 'admin',
    category: 'backup',
    parameters: [
      {
        name: 'destination',
        type: 'path',
        required: true,
        description: {
          en: 'Backup destination directory',
          es: 'Directorio de destino de la copia',
          it: 'Directory di destinazione del backup',
          fr: 'Répertoire de destination de la sauvegarde',
        },
      },
      {
        name: 'compression',
        type: 'select',
        options: ['none', 'gzip', 'bzip2'],
        default: 'gzip',
        description: { en: 'Compression method', es: 'Método de compresión', it: 'Metodo di compressione', fr: 'Méthode de compression' },
      },
    ],
    execution_timeout: 3600,
    flask_port: 5200,
    auto_open_interface: true,
    requires_parameters: true,
  },
};

let root: string;

async function put(path: string, content: string | object) {
  const full = join(root, path);
  await mkdir(dirname(full), { recursive: true });
  await writeFile(full, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
}

function script(defs: ScriptDefinition[], id: string): ScriptDefinition {
  const found = defs.find((d) => d.id === id);
  assert.ok(found, `script ${id} not discovered; have ${defs.map((d) => d.id).join(', ')}`);
  return found;
}

describe('discoverCatalog', () => {
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'catalog-loader-'));
    // The seed's group: metadata.json, the example script, overrides, docs.
    await put('sysadmin/metadata.json', SEED_GROUP);
    await put('sysadmin/backup_system.py', SEED_EXAMPLE);
    await put('sysadmin/scripts/script_metadata.json', SEED_OVERRIDES);
    await put('sysadmin/docs/backup_system.md', '# Backup');
    await put('sysadmin/docs/backup_system_es.md', '# Copia');
    await put('sysadmin/plain.sh', 'echo hi\n');
    await put('sysadmin/_helper.py', 'X = 1\n');
    await put('sysadmin/docs/plain_fr.md', '# Simple');
    await put('sysadmin/scripts/tool.js', '// ScriptsManager Metadata:\n// @description: Tool\n// @required_level: viewer\n');
    await put('sysadmin/broken.py', '"""\nScriptsManager Metadata:\n@description: Broken\n@parameters: [\n  {"name": "x",}\n]\n"""\n');
    await put('sysadmin/secret.py', '"""\nScriptsManager Metadata:\n@required_level: admin\n"""\n');
    await put('sysadmin/typo.py', '"""\nScriptsManager Metadata:\n@required_level: admn\n"""\n');
    // A group with environment overrides.
    await put('envs/metadata.json', {
      name: 'Envs',
      required_level: 'viewer',
      environment: { interpreter: '/venv/bin/python', image: 'registry/tools:1', interpreters: { sh: '/bin/sh' } },
    });
    await put('envs/a.py', '');
    await put('envs/b.sh', '');
    await put('envs/c.js', '');
    // A group whose metadata.json is broken: still listed, every script reports it.
    await put('badgroup/metadata.json', '{\n  "name": "Bad",\n  "required_level": "operator",,\n}\n');
    await put('badgroup/x.py', '');
    // A group that lists only the scripts named in its overrides.
    await put('manual/metadata.json', { name: 'Manual', auto_discovery: false });
    await put('manual/listed.py', '');
    await put('manual/unlisted.py', '');
    await put('manual/scripts/script_metadata.json', { 'listed.py': { required_level: 'developer' } });
    // Not groups: no metadata.json, a hidden folder.
    await put('notagroup/x.py', '');
    await put('.git/metadata.json', {});
  });
  after(() => rm(root, { recursive: true, force: true }));

  it('finds the groups with a metadata.json and their scripts', async () => {
    const snapshot = await discoverCatalog(root, OPTIONS);
    assert.deepEqual(snapshot.groups.map((g) => g.id), ['badgroup', 'envs', 'manual', 'sysadmin']);
    assert.deepEqual(
      snapshot.scripts.map((s) => s.definition.id).filter((id) => id.startsWith('sysadmin/')),
      ['sysadmin/backup_system.py', 'sysadmin/broken.py', 'sysadmin/plain.sh', 'sysadmin/scripts/tool.js', 'sysadmin/secret.py', 'sysadmin/typo.py'],
    );
    assert.deepEqual(snapshot.scripts.filter((s) => s.definition.groupId === 'manual').map((s) => s.definition.file), ['listed.py']);
    assert.equal(script(snapshot.scripts.map((s) => s.definition), 'manual/listed.py').requiredLevel, 'developer');
  });

  it('reads the seed metadata.json', async () => {
    const group = (await discoverCatalog(root, OPTIONS)).groups.find((g) => g.id === 'sysadmin')!;
    assert.deepEqual(group, {
      id: 'sysadmin',
      name: { en: 'System Administration' },
      description: SEED_GROUP.description,
      icon: 'server',
      requiredLevel: 'operator',
      category: 'system',
      environment: { conda: 'base', interpreters: {} },
      executionTimeout: 300,
      autoDiscovery: true,
      problems: [],
    });
  });

  it('applies script_metadata.json over the header (the seed example)', async () => {
    const snapshot = await discoverCatalog(root, OPTIONS);
    const found = snapshot.scripts.find((s) => s.definition.id === 'sysadmin/backup_system.py')!;
    const def = found.definition;
    assert.equal(found.source, SEED_EXAMPLE);
    assert.equal(def.valid, true, def.error);
    assert.deepEqual(def.name, SEED_OVERRIDES['backup_system.py'].display_name);
    // The override's description wins over the header's.
    assert.equal(def.description.en, 'Creates a complete system backup');
    assert.equal(def.description.es, 'Crea una copia de seguridad completa del sistema');
    assert.equal(def.requiredLevel, 'admin');
    assert.equal(def.category, 'backup');
    assert.deepEqual(def.tags, ['system', 'maintenance', 'storage']);
    assert.deepEqual(def.declaredParameters, SEED_OVERRIDES['backup_system.py'].parameters);
    assert.deepEqual(def.parameters[0].description, SEED_OVERRIDES['backup_system.py'].parameters[0].description);
    assert.equal(def.timeoutSeconds, 3600);
    assert.equal(def.interactive, true);
    // Declared docs paths resolve to the files; a missing translation is simply absent.
    assert.deepEqual(def.docs, { en: '# Backup', es: '# Copia' });
    assert.deepEqual(def.extra, { auto_open_interface: true, requires_parameters: true });
    assert.equal(def.interpreter, OPTIONS.pythonInterpreter);
    assert.equal(def.image, OPTIONS.defaultImage);
    assert.equal(def.path, join(root, 'sysadmin', 'backup_system.py'));
  });

  it('uses defaults for a script without a header and finds conventional docs', async () => {
    const defs = (await discoverCatalog(root, OPTIONS)).scripts.map((s) => s.definition);
    const plain = script(defs, 'sysadmin/plain.sh');
    assert.equal(plain.valid, true);
    assert.deepEqual(plain.name, { en: 'Plain' });
    assert.equal(plain.requiredLevel, 'operator'); // the group's
    assert.equal(plain.category, 'system'); // the group's
    assert.equal(plain.timeoutSeconds, 300); // the group's
    assert.equal(plain.interpreter, '/bin/bash');
    assert.deepEqual(plain.docs, { fr: '# Simple' });
    const tool = script(defs, 'sysadmin/scripts/tool.js');
    assert.equal(tool.requiredLevel, 'operator', 'a script cannot go below its group');
    assert.equal(tool.interpreter, process.execPath);
    assert.equal(tool.image, OPTIONS.nodeImage);
    assert.equal(script(defs, 'sysadmin/secret.py').requiredLevel, 'admin');
  });

  it('lists a broken script as invalid with the problem and its line', async () => {
    const defs = (await discoverCatalog(root, OPTIONS)).scripts.map((s) => s.definition);
    const broken = script(defs, 'sysadmin/broken.py');
    assert.equal(broken.valid, false);
    assert.match(broken.error, /^line 5: @parameters is not valid JSON: /);
    assert.deepEqual(broken.description, { en: 'Broken' });
    const typo = script(defs, 'sysadmin/typo.py');
    assert.equal(typo.valid, false);
    assert.equal(typo.error, 'line 3: @required_level "admn" is not a level (use viewer, operator, developer, admin)');
    assert.equal(typo.requiredLevel, 'developer', 'an unreadable level fails closed, yet authors still see the error');
  });

  it('takes interpreters and image from the group environment', async () => {
    const defs = (await discoverCatalog(root, OPTIONS)).scripts.map((s) => s.definition);
    assert.equal(script(defs, 'envs/a.py').interpreter, '/venv/bin/python');
    assert.equal(script(defs, 'envs/b.sh').interpreter, '/bin/sh');
    assert.equal(script(defs, 'envs/c.js').interpreter, process.execPath);
    assert.equal(script(defs, 'envs/c.js').image, 'registry/tools:1');
  });

  it('lists a group with a broken metadata.json; its scripts report the problem', async () => {
    const snapshot = await discoverCatalog(root, OPTIONS);
    const group = snapshot.groups.find((g) => g.id === 'badgroup')!;
    assert.equal(group.requiredLevel, 'developer');
    assert.match(group.problems[0], /^metadata\.json: line 3: not valid JSON/);
    const x = script(snapshot.scripts.map((s) => s.definition), 'badgroup/x.py');
    assert.equal(x.valid, false);
    assert.match(x.error, /^metadata\.json: line 3/);
  });

  it('returns an empty catalog for a missing folder', async () => {
    assert.deepEqual(await discoverCatalog(join(root, 'missing'), OPTIONS), { groups: [], scripts: [] });
  });
});

describe('override precedence', () => {
  const header = '"""\nScriptsManager Metadata:\n@description: From header\n@description_es: Desde cabecera\n@required_level: developer\n@tags: a,b\n@execution_timeout: 10\n@parameters: [{"name": "n", "type": "integer"}]\n"""\n';
  const group = () => parseGroupMetadata('g', JSON.stringify({ required_level: 'operator', execution_timeout: 99 }));
  const build = (overrides?: object) => {
    const g = group();
    const map = parseOverrides(overrides ? JSON.stringify(overrides, null, 2) : undefined, g);
    return buildScript({ group: g, file: 's.py', path: '/x/s.py', source: header, override: map.get('s.py'), docs: new Map(), options: OPTIONS });
  };

  it('header over group defaults', () => {
    const s = build();
    assert.equal(s.requiredLevel, 'developer');
    assert.equal(s.timeoutSeconds, 10);
    assert.deepEqual(s.tags, ['a', 'b']);
  });

  it('override over header, per language for texts', () => {
    const s = build({ 's.py': { description: { en: 'From override' }, required_level: 'admin', tags: 'x, y', execution_timeout: 5, parameters: [] } });
    assert.deepEqual(s.description, { en: 'From override', es: 'Desde cabecera' });
    assert.equal(s.requiredLevel, 'admin');
    assert.deepEqual(s.tags, ['x', 'y']);
    assert.equal(s.timeoutSeconds, 5);
    assert.deepEqual(s.parameters, []);
  });

  it('the group level is a floor the override cannot lower', () => {
    assert.equal(build({ 's.py': { required_level: 'viewer' } }).requiredLevel, 'operator');
  });

  it('a bad override marks the script invalid, naming the file and line', () => {
    const s = build({ 's.py': { required_level: 'boss', parameters: [{ name: 'n', type: 'integer', min: 'one' }] } });
    assert.equal(s.valid, false);
    assert.equal(
      s.error,
      'scripts/script_metadata.json: line 2: "required_level" "boss" is not a level (use viewer, operator, developer, admin); ' +
        'scripts/script_metadata.json: line 2: "parameters": parameter 1 ("n"): "min" must be a number',
    );
    assert.equal(s.requiredLevel, 'developer');
  });

  it('an unreadable script_metadata.json invalidates the group\'s scripts', () => {
    const g = group();
    parseOverrides('{ "s.py": { } ', g);
    const s = buildScript({ group: g, file: 's.py', path: '/x/s.py', source: header, docs: new Map(), options: OPTIONS });
    assert.equal(s.valid, false);
    assert.match(s.error, /^scripts\/script_metadata\.json: line 1: not valid JSON/);
  });
});

describe('the example script_groups', () => {
  it('all parse valid, with docs in every language', async () => {
    const snapshot = await discoverCatalog(join(PROJECT_ROOT, 'script_groups'), OPTIONS);
    assert.ok(snapshot.groups.length >= 2);
    for (const group of snapshot.groups) {
      assert.deepEqual(group.problems, [], group.id);
      assert.deepEqual(Object.keys(group.name).sort(), ['en', 'es', 'fr', 'it'], `${group.id} name`);
      assert.deepEqual(Object.keys(group.description).sort(), ['en', 'es', 'fr', 'it'], `${group.id} description`);
    }
    assert.ok(snapshot.scripts.length >= 6);
    for (const { definition: s } of snapshot.scripts) {
      assert.equal(s.valid, true, `${s.id}: ${s.error}`);
      assert.deepEqual(Object.keys(s.description).sort(), ['en', 'es', 'fr', 'it'], `${s.id} description`);
      assert.deepEqual(Object.keys(s.docs).sort(), ['en', 'es', 'fr', 'it'], `${s.id} docs`);
    }
    const levels = Object.fromEntries(snapshot.groups.map((g) => [g.id, g.requiredLevel]));
    assert.equal(levels.getting_started, 'operator');
    assert.equal(levels.system_admin, 'admin');
    const defs = snapshot.scripts.map((s) => s.definition);
    assert.equal(script(defs, 'getting_started/env_report.py').requiredLevel, 'developer');
    const greet = script(defs, 'getting_started/greet.py');
    assert.deepEqual(
      greet.parameters.map((p) => [p.name, p.type, p.required, p.default, p.min, p.max]),
      [
        ['name', 'string', true, undefined, undefined, undefined],
        ['times', 'integer', false, 1, 1, 10],
        ['shout', 'boolean', false, false, undefined, undefined],
      ],
    );
    assert.equal(script(defs, 'getting_started/countdown.py').parameters[0].default, 20);
    assert.equal(script(defs, 'getting_started/disk_usage.sh').interpreter, '/bin/bash');
    assert.equal(script(defs, 'system_admin/notes_board.py').interactive, true);
  });
});
