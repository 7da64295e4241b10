/**
 * The OpenAPI document tells the truth: real users call the routes of a real all-in-one process
 * (the shipped script groups), and every answer, success or error, is checked against what the
 * document the gateway serves declares for that route and status (test/harness/openapi-contract.ts).
 * A field a DTO leaves out, mistypes or marks non-nullable when it is null fails here, as does a
 * status the route never declared. The web UI's generated client types rest on this.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Api, FINAL_STATES } from '../harness/api.js';
import { waitFor } from '../harness/net.js';
import { OpenApiContract } from '../harness/openapi-contract.js';
import { login, startAllInOneProcess, type RunningStack } from '../harness/stack.js';

const GREET = 'getting_started/greet.py';
const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';

describe('the OpenAPI document against real answers', { concurrency: false, timeout: 240_000 }, () => {
  let stack: RunningStack;
  let contract: OpenApiContract;
  let admin: Api;
  let developer: Api;
  let operator: Api;
  const ids: Record<string, string> = {};

  const call = <T = any>(api: Api, method: string, path: string, body?: unknown, headers?: Record<string, string>) => contract.call<T>(api, method, path, body, headers);
  const expect = async (status: number, api: Api, method: string, path: string, body?: unknown, headers?: Record<string, string>) => {
    const answer = await call(api, method, path, body, headers);
    assert.equal(answer.status, status, `${method} ${path}: ${JSON.stringify(answer.body)}`);
    return answer;
  };
  const finished = (api: Api, id: string) =>
    waitFor(async () => {
      const run = (await call(api, 'GET', `/api/v1/executions/${id}`)).body;
      return FINAL_STATES.includes(run.state) ? run : undefined;
    }, 30_000, `run ${id} to end`);
  const userWith = async (username: string, level: string) => {
    const created = await expect(201, admin, 'POST', '/api/v1/users', { username, password: `${username}-password-1`, level, email: `${username}@example.com` });
    ids[username] = created.body.id;
    return new Api(stack.url, await login(stack.url, username, `${username}-password-1`));
  };

  before(async () => {
    stack = await startAllInOneProcess({ BACKUP_ENCRYPTION_KEY: 'contract spec backup key' });
    const served = await fetch(`${stack.url}/api/docs-json`);
    assert.equal(served.status, 200, 'the gateway serves its OpenAPI document');
    contract = new OpenApiContract(await served.json());
    admin = new Api(stack.url, await login(stack.url));
    developer = await userWith('contract-dev', 'developer');
    operator = await userWith('contract-op', 'operator');
  });
  after(async () => {
    await stack?.stop();
  });

  test('the check itself refuses an answer that strays from the document', async () => {
    const real = await expect(200, operator, 'GET', `/api/v1/scripts/${GREET}`);
    const { hasLongDescription: _dropped, ...missing } = real.body;
    const lies = {
      'a declared field missing': missing,
      'a field the document does not name': { ...real.body, runtime: { path: '/srv/greet.py' } },
      'a fraction where an integer is declared': { ...real.body, timeoutSeconds: 1.5 },
      'a value outside its enum': { ...real.body, requiredLevel: 'root' },
      'null where it is not nullable': { ...real.body, error: null },
    };
    for (const [lie, body] of Object.entries(lies)) {
      assert.throws(() => contract.check('GET', `/api/v1/scripts/${GREET}`, { ...real, body }), /does not match its declared schema/, lie);
    }
    assert.throws(() => contract.check('GET', `/api/v1/scripts/${GREET}`, { ...real, status: 418 }), /does not declare 418/);
  });

  test('sign-in, the caller\'s account and API tokens', async () => {
    const anonymous = new Api(stack.url);
    const signedIn = await expect(200, anonymous, 'POST', '/api/v1/auth/login', { username: 'contract-op', password: 'contract-op-password-1' });
    await expect(401, anonymous, 'POST', '/api/v1/auth/login', { username: 'contract-op', password: 'not the password' });
    await expect(400, anonymous, 'POST', '/api/v1/auth/login', { username: 'contract-op' });
    await expect(401, anonymous, 'GET', '/api/v1/me');
    const refreshed = await expect(200, anonymous, 'POST', '/api/v1/auth/refresh', { refreshToken: signedIn.body.refreshToken });
    await expect(401, anonymous, 'POST', '/api/v1/auth/refresh', { refreshToken: signedIn.body.refreshToken });
    await expect(204, new Api(stack.url, refreshed.body.accessToken), 'POST', '/api/v1/auth/logout', { refreshToken: refreshed.body.refreshToken });

    await expect(200, operator, 'GET', '/api/v1/me');
    assert.equal((await expect(200, operator, 'PATCH', '/api/v1/me', { language: 'es', theme: 'dark' })).body.language, 'es');
    await expect(400, operator, 'PATCH', '/api/v1/me', { language: 'xx' });
    await expect(200, operator, 'PATCH', '/api/v1/me', { language: 'en' });
    await expect(400, operator, 'POST', '/api/v1/me/password', { currentPassword: 'wrong password!', newPassword: 'a new password 2' });
    await expect(204, operator, 'POST', '/api/v1/me/password', { currentPassword: 'contract-op-password-1', newPassword: 'contract-op-password-2' });
    await expect(200, operator, 'GET', '/api/v1/me');

    const token = await expect(201, operator, 'POST', '/api/v1/me/tokens', { name: 'contract ci', expiresInDays: 7 });
    assert.match(token.body.token, /^sct_/);
    const second = await expect(201, operator, 'POST', '/api/v1/me/tokens', { name: 'contract second' });
    await expect(400, operator, 'POST', '/api/v1/me/tokens', { name: 'x', expiresInDays: 1.5 });
    await expect(200, operator, 'GET', '/api/v1/me/tokens');
    await expect(204, operator, 'DELETE', `/api/v1/me/tokens/${second.body.apiToken.id}`);
    const withRevoked = await expect(200, operator, 'GET', '/api/v1/me/tokens?includeInactive=true');
    assert.ok(withRevoked.body.items.some((t: { revokedAt: string }) => t.revokedAt), 'a revoked token is listed with its revocation time');
    // An API token acts as its owner, but cannot make more tokens.
    await expect(403, new Api(stack.url, token.body.token), 'POST', '/api/v1/me/tokens', { name: 'from a token' });
    ids.operatorToken = token.body.apiToken.id;
  });

  test('user administration and the audit trail', async () => {
    await expect(200, admin, 'GET', '/api/v1/users?pageSize=2');
    await expect(200, admin, 'GET', '/api/v1/users?search=contract');
    await expect(400, admin, 'GET', '/api/v1/users?pageSize=0');
    await expect(403, operator, 'GET', '/api/v1/users');
    await expect(409, admin, 'POST', '/api/v1/users', { username: 'contract-op', password: 'another password 1' });
    const temp = await expect(201, admin, 'POST', '/api/v1/users', { username: 'contract-temp', password: 'contract-temp-password-1' });
    const id = temp.body.id as string;
    await expect(200, admin, 'GET', `/api/v1/users/${id}`);
    await expect(404, admin, 'GET', `/api/v1/users/${UNKNOWN_ID}`);
    await expect(200, admin, 'PATCH', `/api/v1/users/${id}`, { level: 'developer', email: '' });
    const me = (await expect(200, admin, 'GET', '/api/v1/me')).body;
    await expect(409, admin, 'PATCH', `/api/v1/users/${me.id}`, { active: false });
    await expect(200, admin, 'POST', `/api/v1/users/${id}/deactivate`);
    await expect(403, new Api(stack.url), 'POST', '/api/v1/auth/login', { username: 'contract-temp', password: 'contract-temp-password-1' });
    await expect(200, admin, 'POST', `/api/v1/users/${id}/activate`);
    await expect(204, admin, 'POST', `/api/v1/users/${id}/password`, { newPassword: 'contract-temp-password-2' });
    await expect(400, admin, 'POST', `/api/v1/users/${id}/password`, { newPassword: 'short' });

    // Wrong passwords until the account is locked at this address: 429 with Retry-After; an admin unlocks it.
    const anonymous = new Api(stack.url);
    const locked = await waitFor(async () => {
      const answer = await call(anonymous, 'POST', '/api/v1/auth/login', { username: 'contract-temp', password: 'wrong password!!' });
      return answer.status === 429 ? answer : undefined;
    }, 10_000, 'the account to be locked');
    assert.ok(Number(locked.headers.get('retry-after')) > 0);
    assert.equal((await expect(200, admin, 'POST', `/api/v1/users/${id}/unlock`)).body.wasLocked, true);

    await expect(200, admin, 'GET', `/api/v1/users/${ids['contract-op']}/tokens?includeInactive=true`);
    await expect(404, admin, 'DELETE', `/api/v1/users/${ids['contract-op']}/tokens/${UNKNOWN_ID}`);
    await expect(204, admin, 'DELETE', `/api/v1/users/${ids['contract-op']}/tokens/${ids.operatorToken}`);
    await expect(409, admin, 'DELETE', `/api/v1/users/${me.id}`);
    await expect(204, admin, 'DELETE', `/api/v1/users/${id}`);

    const audit = await expect(200, admin, 'GET', '/api/v1/audit?pageSize=5');
    assert.ok(audit.body.nextPageToken, 'more than one page of events by now');
    await expect(200, admin, 'GET', `/api/v1/audit?action=user.&outcome=success&pageToken=${encodeURIComponent(audit.body.nextPageToken)}`);
    await expect(200, admin, 'GET', '/api/v1/audit?action=auth.login&outcome=failure&since=2020-01-01T00:00:00Z');
    await expect(400, admin, 'GET', '/api/v1/audit?since=yesterday');
    await expect(403, operator, 'GET', '/api/v1/audit');
  });

  test('the catalog, its metadata edits, documentation and tags', async () => {
    const groups = await expect(200, operator, 'GET', '/api/v1/groups?language=fr');
    assert.ok(groups.body.some((g: { id: string }) => g.id === 'getting_started'));
    await expect(200, admin, 'GET', '/api/v1/groups');
    await expect(200, operator, 'GET', '/api/v1/groups/getting_started/scripts?q=greet&tags=demo&match=any');
    await expect(200, operator, 'GET', '/api/v1/scripts?q=greet&limit=1&offset=0');
    await expect(400, operator, 'GET', '/api/v1/scripts?limit=-1');
    await expect(200, operator, 'GET', `/api/v1/scripts/${GREET}?language=es`);
    await expect(200, admin, 'GET', `/api/v1/scripts/${encodeURIComponent('system_admin/notes_board.py')}`);
    await expect(404, operator, 'GET', `/api/v1/scripts/${encodeURIComponent('system_admin/notes_board.py')}`);
    await expect(404, operator, 'GET', '/api/v1/scripts/getting_started/nothing.py');
    await expect(200, operator, 'GET', `/api/v1/scripts/${GREET}/docs?language=it`);
    await expect(200, operator, 'GET', '/api/v1/scripts/getting_started/countdown.py/docs');

    await expect(200, operator, 'PUT', `/api/v1/scripts/${GREET}/tags`, { tags: ['mine', 'weekly'] });
    await expect(400, operator, 'PUT', `/api/v1/scripts/${GREET}/tags`, { tags: ['no spaces allowed'] });
    await expect(200, operator, 'GET', `/api/v1/scripts/${GREET}/tags`);
    assert.deepEqual((await expect(200, operator, 'GET', '/api/v1/tags')).body, [{ tag: 'mine', count: 1 }, { tag: 'weekly', count: 1 }]);

    const edited = await expect(200, developer, 'PATCH', `/api/v1/scripts/${GREET}/metadata`, { category: 'contract', description: { en: 'Edited', es: 'Editado' }, comment: 'contract test' });
    await expect(409, developer, 'PATCH', `/api/v1/scripts/${GREET}/metadata`, { category: 'stale', expectedVersion: edited.body.metadataVersion + 5 });
    await expect(400, developer, 'PATCH', `/api/v1/scripts/${GREET}/metadata`, { requiredLevel: 'nobody' });
    await expect(403, operator, 'PATCH', `/api/v1/scripts/${GREET}/metadata`, { category: 'mine' });
    await expect(200, developer, 'PATCH', `/api/v1/scripts/${GREET}/metadata`, { reset: ['category'] });
    const versions = await expect(200, developer, 'GET', `/api/v1/scripts/${GREET}/metadata/versions`);
    assert.ok(versions.body.versions.length >= 2);
    const reverted = await expect(201, developer, 'POST', `/api/v1/scripts/${GREET}/metadata/versions/1/revert`, { comment: 'back' });
    assert.equal(reverted.body.edited, true);
    assert.ok((await expect(200, developer, 'GET', `/api/v1/scripts/${GREET}/metadata/versions`)).body.versions.some((v: { revertedTo?: number }) => v.revertedTo === 1));
    await expect(404, developer, 'POST', `/api/v1/scripts/${GREET}/metadata/versions/99/revert`, {});
    await expect(400, developer, 'POST', `/api/v1/scripts/${GREET}/metadata/versions/one/revert`, {});
    assert.equal((await expect(201, developer, 'POST', `/api/v1/scripts/${GREET}/metadata/reparse`, {})).body.edited, false);
  });

  test('runs: start, list, log, re-run, cancel, idempotency', async () => {
    const run = await expect(202, operator, 'POST', '/api/v1/executions', { scriptId: GREET, parameters: { name: 'Ada', times: 2 } }, { 'idempotency-key': 'contract-1' });
    await expect(202, operator, 'POST', '/api/v1/executions', { scriptId: GREET, parameters: { name: 'Ada', times: 2 } }, { 'idempotency-key': 'contract-1' });
    await expect(422, operator, 'POST', '/api/v1/executions', { scriptId: GREET, parameters: { name: 'Bob' } }, { 'idempotency-key': 'contract-1' });
    await expect(400, operator, 'POST', '/api/v1/executions', { scriptId: GREET, parameters: { times: 2 } });
    await expect(400, operator, 'POST', '/api/v1/executions', { parameters: {} });
    await expect(404, operator, 'POST', '/api/v1/executions', { scriptId: 'getting_started/nothing.py' });
    const ended = await finished(operator, run.body.id);
    assert.equal(ended.state, 'succeeded');
    assert.ok(ended.transitions.length >= 3, 'a single run carries its transitions');
    await expect(200, operator, 'GET', `/api/v1/executions/${run.body.id}/log?after=0&limit=100`);
    const text = await expect(200, operator, 'GET', `/api/v1/executions/${run.body.id}/log?format=text`);
    assert.match(text.body, /Ada/);
    await expect(409, operator, 'POST', `/api/v1/executions/${run.body.id}/cancel`);
    const rerun = await expect(202, operator, 'POST', `/api/v1/executions/${run.body.id}/rerun`, {});
    assert.equal(rerun.body.rerunOf, run.body.id);
    await finished(operator, rerun.body.id);
    const failing = await expect(202, operator, 'POST', '/api/v1/executions', { scriptId: 'getting_started/failing_task.py' });
    await finished(operator, failing.body.id);
    const long = await expect(202, operator, 'POST', '/api/v1/executions', { scriptId: 'getting_started/countdown.py', parameters: { seconds: 30 } });
    await expect(202, operator, 'POST', `/api/v1/executions/${long.body.id}/cancel`);
    await finished(operator, long.body.id);

    const page = await expect(200, operator, 'GET', '/api/v1/executions?pageSize=2');
    assert.ok(page.body.nextPageToken);
    await expect(200, operator, 'GET', `/api/v1/executions?pageSize=2&pageToken=${encodeURIComponent(page.body.nextPageToken)}&scriptId=${encodeURIComponent(GREET)}&state=succeeded`);
    await expect(200, admin, 'GET', '/api/v1/executions?allUsers=true');
    await expect(400, operator, 'GET', '/api/v1/executions?state=done');
    await expect(404, admin, 'GET', `/api/v1/executions/${run.body.id.replace(/.$/, run.body.id.endsWith('0') ? '1' : '0')}`);
    await expect(404, admin, 'GET', '/api/v1/executions/not-a-run');
    await expect(404, developer, 'GET', `/api/v1/executions/${run.body.id}`);
  });

  test('projects and their files', async () => {
    const listed = await expect(200, operator, 'GET', '/api/v1/projects?groupId=getting_started');
    const fallback = listed.body.items.find((p: { isDefault: boolean }) => p.isDefault);
    assert.ok(fallback, 'the default project exists from the first listing on');
    await expect(400, operator, 'GET', '/api/v1/projects?groupId=../etc');
    const project = await expect(201, operator, 'POST', '/api/v1/projects', { groupId: 'getting_started', name: 'Contract' });
    await expect(409, operator, 'POST', '/api/v1/projects', { groupId: 'getting_started', name: 'Contract' });
    const id = project.body.id as string;
    await expect(200, operator, 'PUT', '/api/v1/projects/active', { groupId: 'getting_started', projectId: id });
    assert.equal((await expect(200, operator, 'GET', '/api/v1/projects/active?groupId=getting_started')).body.id, id);
    await expect(404, operator, 'PUT', '/api/v1/projects/active', { groupId: 'getting_started', projectId: UNKNOWN_ID });
    await expect(200, operator, 'PATCH', `/api/v1/projects/${id}`, { name: 'Contract renamed' });
    await expect(200, operator, 'GET', `/api/v1/projects/${id}`);
    await expect(404, developer, 'GET', `/api/v1/projects/${id}`);

    await expect(200, operator, 'PUT', `/api/v1/projects/${id}/files/notes/today.txt`, 'plain words\n', { 'content-type': 'text/plain' });
    await expect(200, operator, 'PUT', `/api/v1/projects/${id}/files/notes/data.json`, { a: 1 });
    await expect(409, operator, 'PUT', `/api/v1/projects/${id}/files/notes`, 'a folder is there', { 'content-type': 'text/plain' });
    await expect(200, operator, 'GET', `/api/v1/projects/${id}/files?recursive=true`);
    await expect(200, operator, 'GET', `/api/v1/projects/${id}/files/notes`);
    const file = await expect(200, operator, 'GET', `/api/v1/projects/${id}/files/notes/today.txt`);
    assert.equal(file.body, 'plain words\n');
    await expect(404, operator, 'GET', `/api/v1/projects/${id}/files/nothing-here.txt`);
    await expect(409, operator, 'DELETE', `/api/v1/projects/${id}/files/notes`);
    await expect(204, operator, 'DELETE', `/api/v1/projects/${id}/files/notes?recursive=true`);
    await expect(409, operator, 'DELETE', `/api/v1/projects/${fallback.id}`);
    await expect(204, operator, 'DELETE', `/api/v1/projects/${id}`);
  });

  test('code sessions: autosave with its conflict, runs and their history', async () => {
    await expect(403, operator, 'POST', '/api/v1/code-sessions', { name: 'not mine', language: 'python' });
    await expect(400, developer, 'POST', '/api/v1/code-sessions', { name: 'x', language: 'cobol' });
    const created = await expect(201, developer, 'POST', '/api/v1/code-sessions', { name: 'contract', language: 'python', source: 'print("one")\n' });
    const id = created.body.id as string;
    assert.equal(created.body.projectId, null);
    await expect(200, developer, 'GET', '/api/v1/code-sessions');
    await expect(200, admin, 'GET', '/api/v1/code-sessions?allUsers=true');
    const saved = await expect(200, developer, 'PATCH', `/api/v1/code-sessions/${id}`, { baseVersion: created.body.version, source: 'print("two")\n' });
    const conflict = await expect(409, developer, 'PATCH', `/api/v1/code-sessions/${id}`, { baseVersion: created.body.version, source: 'print("stale")\n' });
    assert.equal(conflict.body.currentVersion, saved.body.version);
    const run = await expect(202, developer, 'POST', `/api/v1/code-sessions/${id}/execute`, { version: saved.body.version });
    await finished(developer, run.body.id);
    await expect(409, developer, 'POST', `/api/v1/code-sessions/${id}/execute`, { version: created.body.version });
    assert.equal((await expect(200, developer, 'GET', `/api/v1/code-sessions/${id}/executions?pageSize=10`)).body.items.length, 1);
    await expect(200, developer, 'GET', `/api/v1/code-sessions/${id}`);
    await expect(404, operator, 'GET', `/api/v1/code-sessions/${id}`);
    await expect(204, developer, 'DELETE', `/api/v1/code-sessions/${id}`);
  });

  test('interactive sessions: list, heartbeat, entry link, close', async () => {
    const run = await expect(202, admin, 'POST', '/api/v1/executions', { scriptId: 'system_admin/notes_board.py' });
    const listed = await waitFor(async () => {
      const answer = await call(admin, 'GET', `/api/v1/sessions?executionId=${run.body.id}`);
      return answer.body.items.length ? answer : undefined;
    }, 20_000, 'the run\'s session');
    const id = listed.body.items[0].id as string;
    await expect(200, admin, 'GET', '/api/v1/sessions?all=true&includeClosed=true');
    await expect(200, admin, 'GET', `/api/v1/sessions/${id}`);
    await expect(404, operator, 'GET', `/api/v1/sessions/${id}`);
    await expect(200, admin, 'POST', `/api/v1/sessions/${id}/heartbeat`);
    await expect(201, admin, 'POST', `/api/v1/sessions/${id}/entry`);
    const closed = await expect(200, admin, 'DELETE', `/api/v1/sessions/${id}`);
    assert.equal(closed.body.state, 'closed');
    await expect(409, admin, 'POST', `/api/v1/sessions/${id}/heartbeat`);
    await expect(409, admin, 'POST', `/api/v1/sessions/${id}/entry`);
    await finished(admin, run.body.id);
  });

  test('logs: a run log, search, statistics, export, retention and deletion', async () => {
    const run = await expect(202, operator, 'POST', '/api/v1/executions', { scriptId: GREET, parameters: { name: 'Grace', times: 1 } });
    await finished(operator, run.body.id);
    const id = run.body.id as string;
    await expect(200, operator, 'GET', `/api/v1/logs/${id}`);
    await expect(404, developer, 'GET', `/api/v1/logs/${id}`);
    await expect(200, operator, 'GET', `/api/v1/logs/${id}/lines?streams=stdout,stderr`);
    await expect(200, operator, 'GET', `/api/v1/logs/${id}/search?q=Grace`);
    await expect(200, operator, 'GET', `/api/v1/logs/${id}/export?format=csv`);
    await expect(400, operator, 'GET', `/api/v1/logs/${id}/export?format=docx`);
    await expect(200, operator, 'GET', '/api/v1/logs/search?q=Grace');
    await expect(400, operator, 'GET', '/api/v1/logs/search?q=Grace&from=2026-02-01&to=2026-01-01');
    await expect(200, operator, 'GET', '/api/v1/logs/statistics');
    await expect(200, admin, 'GET', '/api/v1/logs/statistics?allUsers=true');
    await expect(200, operator, 'GET', '/api/v1/logs/export?format=jsonl&maxRuns=5');
    await expect(403, operator, 'GET', '/api/v1/logs/retention-policies');
    const policy = await expect(200, admin, 'PUT', '/api/v1/logs/retention-policies', { scope: 'group', target: 'contract_none', keepDays: 3650 });
    await expect(200, admin, 'GET', '/api/v1/logs/retention-policies');
    await expect(200, admin, 'POST', '/api/v1/logs/cleanup', { dryRun: true });
    await expect(204, admin, 'DELETE', `/api/v1/logs/retention-policies/${policy.body.id}`);
    const second = await expect(202, operator, 'POST', '/api/v1/executions', { scriptId: GREET, parameters: { name: 'Linus', times: 1 } });
    await finished(operator, second.body.id);
    await expect(404, operator, 'POST', '/api/v1/logs/deletions', { executionIds: [UNKNOWN_ID] });
    await expect(200, operator, 'POST', '/api/v1/logs/deletions', { executionIds: [second.body.id] });
    await expect(404, operator, 'DELETE', `/api/v1/logs/${UNKNOWN_ID}`);
    await expect(204, operator, 'DELETE', `/api/v1/logs/${id}`);
  });

  test('backups: create, list, verify, upload, settings, restore, a project zip', async () => {
    await expect(403, operator, 'GET', '/api/v1/backups');
    const project = await expect(201, operator, 'POST', '/api/v1/projects', { groupId: 'getting_started', name: 'contract-backup' });
    const backup = await expect(201, admin, 'POST', '/api/v1/backups');
    const id = backup.body.id as string;
    assert.equal(backup.body.state, 'succeeded', JSON.stringify(backup.body));
    await expect(200, admin, 'GET', '/api/v1/backups');
    await expect(200, admin, 'GET', `/api/v1/backups/${id}`);
    await expect(200, admin, 'POST', `/api/v1/backups/${id}/verify`);
    await expect(200, admin, 'GET', '/api/v1/backups/status');
    await expect(200, admin, 'GET', '/api/v1/backups/settings');
    await expect(200, admin, 'PUT', '/api/v1/backups/settings', { schedule: '0 3 * * *', timeZone: 'UTC', keepLast: 0, keepDays: 0 });
    await expect(200, operator, 'GET', `/api/v1/projects/${project.body.id}/archive`);
    await expect(200, admin, 'POST', `/api/v1/backups/${id}/restore-project`, { projectId: project.body.id });
    // An upload is the raw archive: the file the destination folder holds.
    const archive = readFileSync(join(stack.dataDir, 'backups', backup.body.location));
    const res = await fetch(`${stack.url}/api/v1/backups/upload`, { method: 'POST', headers: { authorization: `Bearer ${admin.token}`, 'content-type': 'application/octet-stream' }, body: archive });
    const text = await res.text();
    contract.check('POST', '/api/v1/backups/upload', { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers });
    assert.ok(res.status === 201 || res.status === 409, text);
    await expect(400, admin, 'POST', '/api/v1/backups/upload', 'not an archive', { 'content-type': 'application/octet-stream' });
    await expect(409, admin, 'POST', `/api/v1/backups/${id}/restore`, { confirm: 'not the id' });
    await expect(200, admin, 'POST', `/api/v1/backups/${id}/restore`, { confirm: id });
    const other = await expect(201, admin, 'POST', '/api/v1/backups');
    await expect(204, admin, 'DELETE', `/api/v1/backups/${other.body.id}`);
  });

  test('every route was answered and checked, and every kind of error was seen', () => {
    const succeeded = new Set(contract.checked.filter((c) => c.status < 300).map((c) => c.operationId));
    assert.deepEqual(contract.operationIds().filter((id) => !succeeded.has(id)), [], 'routes no test called successfully');
    const statuses = new Set(contract.checked.map((c) => c.status));
    for (const status of [400, 401, 403, 404, 409, 422, 429]) assert.ok(statuses.has(status), `an answer ${status} was checked`);
  });
});
