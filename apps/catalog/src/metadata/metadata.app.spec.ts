import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { fieldErrorsOf } from '#common/errors.js';
import type { Level } from '#contracts/levels.js';
import type { ListScriptMetadataVersionsResponse, ScriptDocumentation, ScriptTags, ListMyTagsResponse, Script } from '#contracts/generated/scriptorium/catalog/v1/catalog.js';
import { startCatalogUnderTest, unary, type CatalogUnderTest } from '../../../../test/harness/catalog-under-test.js';

/** End to end: the real service on an embedded PostgreSQL, called over gRPC with signed tokens. */

describe('catalog metadata edits, docs and tags over gRPC', { timeout: 30_000 }, () => {
  let catalog: CatalogUnderTest | undefined;
  let root: string;

  const token = (level: Level, lang = 'en', user = `user-${level}`) => catalog!.token({ username: user, level, lang, subject: user });

  const call = <T>(method: string, request: object, level: Level, user?: string): Promise<T> =>
    unary<T>(catalog!.client, method, request, token(level, 'en', user));

  before(async () => {
    catalog = await startCatalogUnderTest('catalog-meta-');
    root = catalog.root;
  });

  after(async () => {
    await catalog?.close();
  });

  const GREET = 'getting_started/greet.py';
  const code = (e: grpc.ServiceError) => e.code;
  const failure = (p: Promise<unknown>) => p.then(() => undefined, (e: grpc.ServiceError) => e);

  it('a developer edit wins over the header, survives rescans, and re-parse brings the header back', async () => {
    const edited = await call<Script>('updateScriptMetadata', {
      scriptId: GREET,
      edit: { description: { values: { en: 'Edited greeting' } }, tags: { tags: ['Demo', 'edited'] }, category: 'people', timeoutSeconds: 42 },
      comment: 'first edit',
    }, 'developer', 'dev-1');
    assert.equal(edited.description, 'Edited greeting');
    assert.deepEqual(edited.tags, ['demo', 'edited']);
    assert.equal(edited.edited, true);
    assert.equal(edited.metadataVersion, 1);
    assert.deepEqual([...edited.editedFields].sort(), ['category', 'description', 'tags', 'timeout_seconds']);
    // Untouched languages still come from the header.
    assert.equal((await call<Script>('getScript', { scriptId: GREET, language: 'fr' }, 'operator')).description.length > 0, true);

    // The header changes on disk: the edit still wins after the rescan.
    const path = join(root, 'script_groups', 'getting_started', 'greet.py');
    const original = await readFile(path, 'utf8');
    await writeFile(path, original.replace(/@description: .*/, '@description: Header changed'));
    const deadline = Date.now() + 2000;
    let reparsed: Script | undefined;
    while (Date.now() < deadline) {
      const s = await call<Script>('getScript', { scriptId: GREET }, 'operator');
      assert.equal(s.description, 'Edited greeting');
      if (s.runtime!.source.includes('Header changed')) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    reparsed = await call<Script>('reparseScriptMetadata', { scriptId: GREET, comment: 'back to header' }, 'admin', 'admin-1');
    assert.equal(reparsed.description, 'Header changed');
    assert.equal(reparsed.edited, false);
    assert.deepEqual(reparsed.tags, ['demo', 'parameters', 'hello']);
    assert.equal(reparsed.timeoutSeconds === 42, false);
    await writeFile(path, original);
  });

  it('keeps every version with who and when, and reverts to any of them', async () => {
    const history = await call<ListScriptMetadataVersionsResponse>('listScriptMetadataVersions', { scriptId: GREET }, 'developer');
    assert.deepEqual(history.versions.map((v) => `${v.version}:${v.action}:${v.authorName}`), ['2:reparse:admin-1', '1:edit:dev-1']);
    assert.equal(history.currentVersion, 2);
    assert.ok(!Number.isNaN(Date.parse(history.versions[1].createdAt)));
    assert.equal(history.versions[1].comment, 'first edit');
    assert.equal(JSON.parse(history.versions[1].overridesJson).category, 'people');

    const reverted = await call<Script>('revertScriptMetadata', { scriptId: GREET, version: 1 }, 'developer', 'dev-2');
    assert.equal(reverted.description, 'Edited greeting');
    assert.equal(reverted.category, 'people');
    assert.equal(reverted.metadataVersion, 3);
    const after = await call<ListScriptMetadataVersionsResponse>('listScriptMetadataVersions', { scriptId: GREET }, 'admin');
    assert.equal(after.versions[0].action, 'revert');
    assert.equal(after.versions[0].revertedTo, 1);
    assert.equal(after.versions[0].authorName, 'dev-2');
    // A stale expected version is refused.
    const stale = await failure(call('updateScriptMetadata', { scriptId: GREET, edit: { category: 'x' }, expectedVersion: 1 }, 'developer'));
    assert.equal(stale?.code, grpc.status.ABORTED);
    // Back to no edits at all.
    assert.equal((await call<Script>('revertScriptMetadata', { scriptId: GREET, version: 0 }, 'developer')).edited, false);
  });

  it('checks the level: viewer/operator denied, scripts above the caller NOT_FOUND', async () => {
    const edit = { scriptId: GREET, edit: { category: 'x' } };
    assert.equal(code((await failure(call('updateScriptMetadata', edit, 'operator')))!), grpc.status.PERMISSION_DENIED);
    assert.equal(code((await failure(call('updateScriptMetadata', edit, 'viewer')))!), grpc.status.NOT_FOUND); // greet needs operator
    assert.equal(code((await failure(call('listScriptMetadataVersions', { scriptId: GREET }, 'operator')))!), grpc.status.PERMISSION_DENIED);
    assert.equal(code((await failure(call('reparseScriptMetadata', { scriptId: GREET }, 'operator')))!), grpc.status.PERMISSION_DENIED);
    assert.equal(code((await failure(call('revertScriptMetadata', { scriptId: GREET, version: 0 }, 'operator')))!), grpc.status.PERMISSION_DENIED);
    const hidden = { scriptId: 'system_admin/backup_system.py', edit: { category: 'x' } };
    const tooHigh = await failure(call('updateScriptMetadata', hidden, 'developer'));
    const missing = await failure(call('updateScriptMetadata', { ...hidden, scriptId: 'system_admin/nope.py' }, 'developer'));
    assert.equal(tooHigh?.code, grpc.status.NOT_FOUND);
    assert.equal(tooHigh?.details.replace('backup_system', 'X'), missing?.details.replace('nope', 'X'));
    assert.equal(code((await failure(call('getScriptDocumentation', { scriptId: 'system_admin/backup_system.py' }, 'developer')))!), grpc.status.NOT_FOUND);
  });

  it('rejects a bad edit with per-field errors', async () => {
    const error = await failure(call('updateScriptMetadata', {
      scriptId: GREET,
      edit: { requiredLevel: 'boss', tags: { tags: ['ok', 'no spaces'] }, parametersJson: '{"x": 1}' },
    }, 'developer'));
    assert.equal(error?.code, grpc.status.INVALID_ARGUMENT);
    const fields = fieldErrorsOf(error!.metadata)!;
    assert.deepEqual(Object.keys(fields).sort(), ['parameters', 'required_level', 'tags[1]']);
  });

  it('serves sanitized documentation with English fallback, from files or edits', async () => {
    const fr = await call<ScriptDocumentation>('getScriptDocumentation', { scriptId: GREET, language: 'fr' }, 'operator');
    assert.equal(fr.language, 'fr');
    assert.deepEqual(fr.availableLanguages, ['en', 'es', 'it', 'fr']);
    assert.ok(fr.html.length > 0);
    await call('updateScriptMetadata', {
      scriptId: 'getting_started/countdown.py',
      edit: { longDescription: { values: { en: '# Hi <script>alert(1)</script> <img src=x onerror=alert(1)> [x](javascript:alert(1))' } } },
    }, 'developer');
    const doc = await call<ScriptDocumentation>('getScriptDocumentation', { scriptId: 'getting_started/countdown.py', language: 'en' }, 'operator');
    assert.equal(doc.source, 'edit');
    assert.doesNotMatch(doc.html, /<script|<img|href="javascript/);
    const listed = await call<{ scripts: Script[] }>('listScripts', { groupId: 'getting_started' }, 'operator');
    const late = listed.scripts.find((s) => s.id === 'getting_started/failing_task.py')!;
    assert.equal(late.hasLongDescription, true);
    assert.deepEqual(late.longDescriptionLanguages, ['en', 'es', 'it', 'fr']);
    assert.equal(late.names.en.length > 0, true);
  });

  it('keeps personal tags per user, enforces the limits, and searches by all/any', async () => {
    const mine = await call<ScriptTags>('setPersonalTags', { scriptId: GREET, tags: ['Mine', 'weekly'] }, 'operator', 'ann');
    assert.deepEqual(mine.personalTags, ['mine', 'weekly']);
    await call('setPersonalTags', { scriptId: 'getting_started/countdown.py', tags: ['weekly'] }, 'operator', 'ann');
    await call('setPersonalTags', { scriptId: GREET, tags: ['bobs'] }, 'operator', 'bob');
    assert.deepEqual((await call<ScriptTags>('getScriptTags', { scriptId: GREET }, 'operator', 'bob')).personalTags, ['bobs']);
    assert.deepEqual((await call<ListMyTagsResponse>('listMyTags', {}, 'operator', 'ann')).tags, [{ tag: 'weekly', count: 2 }, { tag: 'mine', count: 1 }]);
    assert.deepEqual((await call<ListMyTagsResponse>('listMyTags', {}, 'operator', 'bob')).tags, [{ tag: 'bobs', count: 1 }]);

    const ids = async (request: object, user = 'ann') => (await call<{ scripts: Script[] }>('listScripts', request, 'operator', user)).scripts.map((s) => s.id);
    assert.deepEqual(await ids({ tags: ['weekly', 'mine'], tagMatch: 'all' }), [GREET]);
    assert.deepEqual(await ids({ tags: ['weekly', 'mine'], tagMatch: 'any' }), ['getting_started/countdown.py', GREET]);
    assert.deepEqual(await ids({ tags: ['weekly', 'hello'], tagMatch: 'all' }), [GREET]); // personal + system tags
    assert.deepEqual(await ids({ tags: ['weekly'] }, 'bob'), []); // ann's tags are hers alone
    assert.deepEqual(await ids({ query: 'bobs' }, 'bob'), [GREET]);

    const tooMany = await failure(call('setPersonalTags', { scriptId: GREET, tags: Array.from({ length: 21 }, (_, i) => `t${i}`) }, 'operator', 'ann'));
    assert.equal(tooMany?.code, grpc.status.INVALID_ARGUMENT);
    assert.match(tooMany!.details, /at most 20/);
    const badChars = await failure(call('setPersonalTags', { scriptId: GREET, tags: ['no way!'] }, 'operator', 'ann'));
    assert.match(badChars!.details, /only letters, digits/);
    const badMatch = await failure(call('listScripts', { tags: ['a'], tagMatch: 'some' }, 'operator'));
    assert.equal(badMatch?.code, grpc.status.INVALID_ARGUMENT);
  });
});
