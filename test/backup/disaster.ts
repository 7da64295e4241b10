import assert from 'node:assert/strict';
import { Api } from '../harness/api.js';
import { ADMIN_PASSWORD, login } from '../harness/stack.js';

/**
 * The disaster: an installation full of everything a user would miss (users of every level,
 * runs with their logs, a project with files, a script's metadata edit, personal tags, a code
 * session, an API token) is backed up, destroyed, and restored into a new, empty installation;
 * every answer of the API is then the same as before. Broken and newer archives are refused
 * and change nothing.
 */

export const KEY = 'disaster test encryption key';
export const PASSWORD = 'disaster-password-1';
const USERS = { vera: 'viewer', otto: 'operator', dana: 'developer', ada: 'admin' } as const;

export interface Filled {
  runs: string[];
  project: string;
  apiToken: string;
}

export async function as(url: string, username: string, password = PASSWORD): Promise<Api> {
  return new Api(url, await login(url, username, password));
}

export async function ok<T = any>(answer: Promise<{ status: number; body: T }>, status = 200): Promise<T> {
  const res = await answer;
  assert.equal(res.status, status, JSON.stringify(res.body));
  return res.body;
}

/** Fills an installation through its API, as its users would have. */
export async function fill(url: string): Promise<Filled> {
  const admin = new Api(url, await login(url));
  for (const [username, level] of Object.entries(USERS)) await ok(admin.post('/api/v1/users', { username, password: PASSWORD, level }), 201);
  const otto = await as(url, 'otto');
  const dana = await as(url, 'dana');
  const ada = await as(url, 'ada');
  const runs = [];
  for (const name of ['Ada', 'Grace']) {
    const run = await otto.run('getting_started/greet.py', { name });
    assert.equal((await otto.finished(run.id)).state, 'succeeded');
    runs.push(run.id);
  }
  const project = await ok(otto.post('/api/v1/projects', { groupId: 'getting_started', name: 'Disaster notes' }), 201);
  await ok(otto.request('PUT', `/api/v1/projects/${project.id}/files/notes.txt`, 'keep me', { 'content-type': 'text/plain' }));
  await ok(otto.request('PUT', `/api/v1/projects/${project.id}/files/deep/data.json`, '{"answer":42}', { 'content-type': 'text/plain' }));
  await ok(ada.request('PATCH', '/api/v1/scripts/getting_started/word_stats.js/metadata', { tags: ['restored-edit'], comment: 'before the disaster' }));
  await ok(otto.request('PUT', '/api/v1/scripts/getting_started/greet.py/tags', { tags: ['my-favourite'] }));
  await ok(dana.post('/api/v1/code-sessions', { name: 'scratch', language: 'python', source: 'print("survives")' }), 201);
  const token = await ok(otto.post('/api/v1/me/tokens', { name: 'ci', expiresInDays: 30 }), 201);
  return { runs, project: project.id, apiToken: token.token };
}

/** Times of last use change with every sign-in and call: not part of what a restore must bring back. */
export function stable(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stable);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).filter(([k]) => !/^last.*At$/.test(k)).map(([k, v]) => [k, stable(v)]));
  return value;
}

/** What each user sees, read through the API. */
export async function snapshot(url: string, filled: Filled): Promise<Record<string, unknown>> {
  const admin = await as(url, 'ada');
  const otto = await as(url, 'otto');
  const dana = await as(url, 'dana');
  const vera = await as(url, 'vera');
  const read = async (api: Api, path: string) => {
    const res = await api.get(path);
    assert.equal(res.status, 200, `${path}: ${JSON.stringify(res.body)}`);
    return stable(res.body);
  };
  const answers: Record<string, unknown> = {
    users: await read(admin, '/api/v1/users'),
    allRuns: await read(admin, '/api/v1/executions?allUsers=true'),
    ottoRuns: await read(otto, '/api/v1/executions'),
    edited: await read(admin, '/api/v1/scripts/getting_started/word_stats.js'),
    versions: await read(admin, '/api/v1/scripts/getting_started/word_stats.js/metadata/versions'),
    ottoTags: await read(otto, '/api/v1/tags'),
    ottoScriptTags: await read(otto, '/api/v1/scripts/getting_started/greet.py/tags'),
    projects: await read(otto, '/api/v1/projects'),
    files: await read(otto, `/api/v1/projects/${filled.project}/files`),
    notes: await read(otto, `/api/v1/projects/${filled.project}/files/notes.txt`),
    nested: await read(otto, `/api/v1/projects/${filled.project}/files/deep/data.json`),
    codeSessions: await read(dana, '/api/v1/code-sessions'),
    tokens: await read(otto, '/api/v1/me/tokens'),
    veraMe: await read(vera, '/api/v1/me'),
  };
  for (const id of filled.runs) {
    answers[`run ${id}`] = await read(otto, `/api/v1/executions/${id}`);
    answers[`log ${id}`] = await read(otto, `/api/v1/executions/${id}/log?format=text`);
  }
  return answers;
}

export async function backUp(url: string): Promise<any> {
  const admin = await as(url, 'ada');
  const backup = await ok(admin.post('/api/v1/backups'), 201);
  assert.equal(backup.state, 'succeeded', backup.error);
  assert.ok(backup.verifiedAt, 'verified as written');
  assert.deepEqual(Object.keys(backup.manifest.services).sort(), ['auth', 'backup', 'catalog', 'execution', 'logging']);
  for (const part of backup.manifest.parts) assert.match(part.sha256, /^[0-9a-f]{64}$/);
  return backup;
}

/** In the new installation (its bootstrap admin): finds the archive in the destination and restores it. */
export async function restoreInto(url: string, backupId: string) {
  const bootstrap = new Api(url, await login(url, 'admin', ADMIN_PASSWORD));
  const listed = await ok(bootstrap.get('/api/v1/backups'));
  const found = listed.items.find((b: any) => b.id === backupId);
  assert.ok(found, `the new installation lists the archive of backup ${backupId}: ${JSON.stringify(listed)}`);
  const refused = await bootstrap.post(`/api/v1/backups/${backupId}/restore`, { confirm: 'yes' });
  assert.equal(refused.status, 409);
  assert.match(refused.body.message, /to confirm, send confirm: "/);
  return ok(bootstrap.post(`/api/v1/backups/${backupId}/restore`, { confirm: backupId }));
}

export async function checkRestored(url: string, before: Record<string, unknown>, filled: Filled) {
  assert.deepEqual(await snapshot(url, filled), before);
  // The API token made before the disaster still works.
  const viaToken = new Api(url, filled.apiToken);
  assert.equal((await ok(viaToken.get('/api/v1/me'))).username, 'otto');
  // The restore is in the (restored) audit trail.
  const ada = await as(url, 'ada');
  const audit = await ok(ada.get('/api/v1/audit?action=backup.restored'));
  assert.ok(audit.items.some((e: any) => e.outcome === 'success'), JSON.stringify(audit));
}

