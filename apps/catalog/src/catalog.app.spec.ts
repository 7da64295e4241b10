import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { Level } from '#contracts/levels.js';
import type { Group, Script } from '#contracts/generated/scriptorium/catalog/v1/catalog.js';
import { startCatalogUnderTest, unary, type CatalogClient, type CatalogUnderTest } from '../../../test/harness/catalog-under-test.js';

/** End to end: the real service on an embedded PostgreSQL, called over gRPC with signed tokens. */

describe('catalog service over gRPC', { timeout: 30_000 }, () => {
  let catalog: CatalogUnderTest | undefined;
  let root: string;
  let client: CatalogClient;

  const token = (level: Level, lang = 'en') => catalog!.token({ username: level, level, lang, subject: randomUUID() });

  const call = <T>(method: string, request: object, level: Level, lang?: string): Promise<T> => unary<T>(client, method, request, token(level, lang));

  before(async () => {
    catalog = await startCatalogUnderTest('catalog-e2e-');
    ({ root, client } = catalog);
  });

  after(async () => {
    await catalog?.close();
  });

  it('rejects a call without a token', async () => {
    await assert.rejects(
      new Promise((resolve, reject) => client.listGroups({}, new grpc.Metadata(), (e, r) => (e ? reject(e) : resolve(r)))),
      (e: grpc.ServiceError) => e.code === grpc.status.UNAUTHENTICATED,
    );
  });

  it('ListGroups filters groups and counts by level', async () => {
    const view = async (level: Level) =>
      (await call<{ groups: Group[] }>('listGroups', {}, level)).groups.map((g) => `${g.id}:${g.scriptCount}`);
    assert.deepEqual(await view('viewer'), []);
    assert.deepEqual(await view('operator'), ['getting_started:6']);
    assert.deepEqual(await view('developer'), ['getting_started:7']);
    assert.deepEqual(await view('admin'), ['getting_started:7', 'system_admin:2']);
  });

  it('answers in the requested language, else the caller\'s, else English', async () => {
    const spanish = await call<{ groups: Group[] }>('listGroups', { language: 'es' }, 'operator');
    assert.equal(spanish.groups[0].name, 'Primeros pasos');
    const fromToken = await call<{ groups: Group[] }>('listGroups', {}, 'operator', 'it');
    assert.equal(fromToken.groups[0].name, 'Per iniziare');
  });

  it('ListScripts searches name, description and tags; hides groups above the caller', async () => {
    const found = await call<{ scripts: Script[] }>('listScripts', { groupId: 'getting_started', query: 'PROGRESS' }, 'operator');
    assert.deepEqual(found.scripts.map((s) => s.id), ['getting_started/progress_demo.py']);
    assert.equal(found.scripts[0].runtime, null);
    const all = await call<{ scripts: Script[] }>('listScripts', {}, 'operator');
    assert.ok(!all.scripts.some((s) => s.id.startsWith('system_admin/') || s.id.endsWith('env_report.py')));
    await assert.rejects(call('listScripts', { groupId: 'system_admin' }, 'operator'), (e: grpc.ServiceError) => e.code === grpc.status.NOT_FOUND);
  });

  it('GetScript returns the runtime, and NOT_FOUND for unknown or too-high scripts alike', async () => {
    const greet = await call<Script>('getScript', { scriptId: 'getting_started/greet.py', language: 'fr' }, 'operator');
    assert.equal(greet.name, 'Salutations');
    assert.equal(greet.valid, true);
    assert.match(greet.runtime!.source, /ScriptsManager Metadata/);
    assert.equal(greet.runtime!.path, join(root, 'script_groups', 'getting_started', 'greet.py'));
    const schema = JSON.parse(greet.parametersSchemaJson);
    assert.deepEqual(schema.required, ['name']);
    assert.equal(schema.properties.times.maximum, 10);
    assert.equal(schema.properties.name.description, 'Qui saluer');
    const hidden = await call<Script>('getScript', { scriptId: 'getting_started/env_report.py' }, 'operator').catch((e) => e);
    const unknown = await call<Script>('getScript', { scriptId: 'getting_started/nope.py' }, 'operator').catch((e) => e);
    assert.equal(hidden.code, grpc.status.NOT_FOUND);
    assert.equal(unknown.code, grpc.status.NOT_FOUND);
    assert.equal(hidden.details.replace('env_report', 'X'), unknown.details.replace('nope', 'X'));
  });

  it('reflects a new script (even a broken one) within a second', async () => {
    await writeFile(
      join(root, 'script_groups', 'getting_started', 'late.py'),
      '"""\nScriptsManager Metadata:\n@description: Late\n@parameters: [\n  {"name": x}\n]\n"""\n',
    );
    const deadline = Date.now() + 1000;
    let script: Script | undefined;
    while (!script && Date.now() < deadline) {
      script = await call<Script>('getScript', { scriptId: 'getting_started/late.py' }, 'operator').catch(() => undefined);
      if (!script) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(script, 'the new script did not appear within a second');
    assert.equal(script.valid, false);
    assert.match(script.error, /^line 5: @parameters is not valid JSON/);
  });

  it('serves a changed script body to runs within a second, though its header did not change', async () => {
    const file = join(root, 'script_groups', 'getting_started', 'body.py');
    const header = '"""\nScriptsManager Metadata:\n@description: Body\n"""\n';
    const sourceWithin = async (pattern: RegExp) => {
      const deadline = Date.now() + 1000;
      for (;;) {
        const script = await call<Script>('getScript', { scriptId: 'getting_started/body.py' }, 'operator').catch(() => undefined);
        if (script && pattern.test(script.runtime!.source)) return;
        if (Date.now() > deadline) assert.fail(`GetScript did not serve a source matching ${pattern} within a second`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    await writeFile(file, `${header}print("first")\n`);
    await sourceWithin(/print\("first"\)/);
    await writeFile(file, `${header}print("second")\n`);
    await sourceWithin(/print\("second"\)/);
  });
});
