import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Api } from '../harness/api.js';
import { waitFor } from '../harness/net.js';
import { login, startDistributed, type RunningStack } from '../harness/stack.js';

const FIXTURES = resolve(import.meta.dirname, '../../../test/projects/fixtures/script_groups');
const GROUP = 'projtest';
const SCRIPT = 'projtest/writer.py';
const MAX_FILE_BYTES = 4096;

/** A request sent byte for byte as written: fetch would normalize "..", so hostile paths go through node:http. */
function raw(url: string, method: string, path: string, token: string, body?: string): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolvePromise, reject) => {
    const req = httpRequest({ hostname, port, method, path, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolvePromise({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Projects, their data directories and the file API, over real processes (PostgreSQL, NATS, one process per app). */
describe('projects and data directories', { concurrency: false }, () => {
  let stack: RunningStack;
  let admin: Api;
  let alice: Api;
  let bob: Api;
  let aliceDefault: any;
  let aliceSecond: any;

  const finished = (api: Api, id: string) => api.finished(id, 20_000, () => `; output:\n${stack.output().slice(-3000)}`);

  const runWriter = async (api: Api, parameters: Record<string, unknown>, projectId?: string) => {
    const res = await api.post('/api/v1/executions', { scriptId: SCRIPT, parameters, ...(projectId ? { projectId } : {}) });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    return res.body;
  };

  const readText = async (api: Api, projectId: string, path: string) => {
    const res = await api.get(`/api/v1/projects/${projectId}/files/${path}`);
    return { status: res.status, text: typeof res.body === 'string' ? res.body : JSON.stringify(res.body) };
  };

  before(async () => {
    stack = await startDistributed({ SCRIPT_GROUPS_DIR: FIXTURES, PROJECT_FILE_MAX_BYTES: String(MAX_FILE_BYTES) });
    admin = new Api(stack.url, await login(stack.url));
    for (const username of ['alice', 'bob']) {
      const created = await admin.post('/api/v1/users', { username, password: `${username}-password-123`, level: 'operator' });
      assert.equal(created.status, 201, JSON.stringify(created.body));
    }
    alice = new Api(stack.url, await login(stack.url, 'alice', 'alice-password-123'));
    bob = new Api(stack.url, await login(stack.url, 'bob', 'bob-password-123'));
  });
  after(async () => {
    await stack?.stop();
  });

  test('a default project is created on first use and is the active one', async () => {
    const list = await alice.get(`/api/v1/projects?groupId=${GROUP}`);
    assert.equal(list.status, 200);
    assert.equal(list.body.items.length, 1);
    aliceDefault = list.body.items[0];
    assert.equal(aliceDefault.name, 'Default');
    assert.equal(aliceDefault.isDefault, true);
    assert.equal(aliceDefault.isActive, true);
    const active = await alice.get(`/api/v1/projects/active?groupId=${GROUP}`);
    assert.equal(active.body.id, aliceDefault.id);
    assert.equal((await alice.get(`/api/v1/projects?groupId=${GROUP}`)).body.items.length, 1, 'listing again creates no second default');
  });

  test('create, rename and refuse bad or duplicate names; unknown groups are 404', async () => {
    const created = await alice.post('/api/v1/projects', { groupId: GROUP, name: 'Second' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.isDefault, false);
    assert.equal(created.body.isActive, false);
    const duplicate = await alice.post('/api/v1/projects', { groupId: GROUP, name: 'second' });
    assert.equal(duplicate.status, 409);
    assert.match(duplicate.body.message, /already exists/);
    assert.equal((await alice.post('/api/v1/projects', { groupId: GROUP, name: '' })).status, 400);
    assert.equal((await alice.post('/api/v1/projects', { groupId: '../etc', name: 'x' })).status, 400);
    const unknownGroup = await alice.post('/api/v1/projects', { groupId: 'no-such-group', name: 'x' });
    assert.equal(unknownGroup.status, 404);
    const renamed = await alice.request('PATCH', `/api/v1/projects/${created.body.id}`, { name: 'Analysis' });
    assert.equal(renamed.status, 200);
    assert.equal(renamed.body.name, 'Analysis');
    aliceSecond = renamed.body;
    const names = (await alice.get(`/api/v1/projects?groupId=${GROUP}`)).body.items.map((p: any) => p.name);
    assert.deepEqual(names, ['Default', 'Analysis']);
  });

  test("only the owner (and admins) see a project and its files; others get 404", async () => {
    assert.equal((await bob.get(`/api/v1/projects/${aliceSecond.id}`)).status, 404);
    assert.equal((await bob.get(`/api/v1/projects/${aliceSecond.id}/files`)).status, 404);
    assert.equal((await bob.request('PUT', `/api/v1/projects/${aliceSecond.id}/files/x.txt`, 'x', { 'content-type': 'application/octet-stream' })).status, 404);
    assert.equal((await bob.request('PATCH', `/api/v1/projects/${aliceSecond.id}`, { name: 'mine' })).status, 404);
    assert.equal((await bob.request('DELETE', `/api/v1/projects/${aliceSecond.id}`)).status, 404);
    assert.equal((await bob.get('/api/v1/projects/not-a-uuid')).status, 404);
    assert.equal((await bob.get(`/api/v1/projects?userId=${aliceSecond.userId}`)).status, 403);
    assert.equal((await admin.get(`/api/v1/projects/${aliceSecond.id}`)).status, 200);
    assert.equal((await admin.get(`/api/v1/projects?userId=${aliceSecond.userId}`)).body.items.length, 2);
    // Bob cannot run in Alice's project either.
    const foreign = await bob.post('/api/v1/executions', { scriptId: SCRIPT, parameters: {}, projectId: aliceSecond.id });
    assert.equal(foreign.status, 404);
  });

  test("each run writes into its project's data directory only, seen through that project's files API", async () => {
    const [a1, a2, b1] = [
      await runWriter(alice, { file: 'hello.txt', content: 'alice-default' }),
      await runWriter(alice, { file: 'hello.txt', content: 'alice-analysis' }, aliceSecond.id),
      await runWriter(bob, { file: 'hello.txt', content: 'bob-default' }),
    ];
    for (const [api, run] of [[alice, a1], [alice, a2], [bob, b1]] as const) assert.equal((await finished(api, run.id)).state, 'succeeded');
    assert.equal(a1.projectId, aliceDefault.id);
    assert.equal(a2.projectId, aliceSecond.id);
    const log = (await alice.get(`/api/v1/executions/${a2.id}/log?format=text`)).body as string;
    assert.match(log, new RegExp(`project ${aliceSecond.id} Analysis cwd=True`));

    assert.deepEqual(await readText(alice, aliceDefault.id, 'hello.txt'), { status: 200, text: 'alice-default' });
    assert.deepEqual(await readText(alice, aliceSecond.id, 'hello.txt'), { status: 200, text: 'alice-analysis' });
    const bobDefault = (await bob.get(`/api/v1/projects/active?groupId=${GROUP}`)).body;
    assert.notEqual(bobDefault.id, aliceDefault.id);
    assert.deepEqual(await readText(bob, bobDefault.id, 'hello.txt'), { status: 200, text: 'bob-default' });

    const listing = await alice.get(`/api/v1/projects/${aliceSecond.id}/files`);
    assert.equal(listing.status, 200);
    const hello = listing.body.items.find((e: any) => e.path === 'hello.txt');
    assert.equal(hello.type, 'file');
    assert.equal(hello.size, 'alice-analysis'.length);
    assert.ok(Date.parse(hello.modifiedAt) > Date.now() - 60_000);
    assert.equal(listing.body.maxFileBytes, MAX_FILE_BYTES);
  });

  test('the active project is used when a run names none; a project of another group is refused', async () => {
    const set = await alice.request('PUT', '/api/v1/projects/active', { groupId: GROUP, projectId: aliceSecond.id });
    assert.equal(set.status, 200);
    assert.equal(set.body.isActive, true);
    assert.equal((await alice.get(`/api/v1/projects/${aliceDefault.id}`)).body.isActive, false);
    const run = await runWriter(alice, { file: 'active.txt', content: 'went to the active project' });
    assert.equal(run.projectId, aliceSecond.id);
    await finished(alice, run.id);
    assert.equal((await readText(alice, aliceSecond.id, 'active.txt')).text, 'went to the active project');
    assert.equal((await readText(alice, aliceDefault.id, 'active.txt')).status, 404);

    const other = await alice.post('/api/v1/projects', { groupId: '.code-sessions', name: 'Elsewhere' });
    assert.equal(other.status, 201);
    const wrongGroup = await alice.post('/api/v1/executions', { scriptId: SCRIPT, parameters: {}, projectId: other.body.id });
    assert.equal(wrongGroup.status, 400);
    assert.match(wrongGroup.body.message, /belongs to group \.code-sessions/);
    await alice.request('PUT', '/api/v1/projects/active', { groupId: GROUP, projectId: 'default' });
  });

  test('upload, download, list and delete files; size limit answers 413', async () => {
    const put = await alice.request('PUT', `/api/v1/projects/${aliceSecond.id}/files/input/data.csv`, 'a,b\n1,2\n', { 'content-type': 'text/csv' });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.deepEqual({ path: put.body.path, type: put.body.type, size: put.body.size }, { path: 'input/data.csv', type: 'file', size: 8 });
    const download = await fetch(`${stack.url}/api/v1/projects/${aliceSecond.id}/files/input/data.csv`, { headers: { authorization: `Bearer ${alice.token}` } });
    assert.equal(download.headers.get('content-type'), 'application/octet-stream');
    assert.match(download.headers.get('content-disposition') ?? '', /attachment; filename="data.csv"/);
    assert.equal(download.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(await download.text(), 'a,b\n1,2\n');
    const folder = await alice.get(`/api/v1/projects/${aliceSecond.id}/files/input`);
    assert.deepEqual(folder.body.items.map((e: any) => e.path), ['input/data.csv']);
    const recursive = await alice.get(`/api/v1/projects/${aliceSecond.id}/files?recursive=true`);
    assert.ok(recursive.body.items.some((e: any) => e.path === 'input/data.csv'));

    const big = await alice.request('PUT', `/api/v1/projects/${aliceSecond.id}/files/big.bin`, 'x'.repeat(MAX_FILE_BYTES + 1), { 'content-type': 'application/octet-stream' });
    assert.equal(big.status, 413);
    assert.match(big.body.message, new RegExp(`at most ${MAX_FILE_BYTES} bytes`));
    const exact = await alice.request('PUT', `/api/v1/projects/${aliceSecond.id}/files/big.bin`, 'x'.repeat(MAX_FILE_BYTES), { 'content-type': 'application/octet-stream' });
    assert.equal(exact.status, 200);

    assert.equal((await alice.request('DELETE', `/api/v1/projects/${aliceSecond.id}/files/input`)).status, 409, 'a non-empty folder needs recursive=true');
    assert.equal((await alice.request('DELETE', `/api/v1/projects/${aliceSecond.id}/files/input?recursive=true`)).status, 204);
    assert.equal((await alice.get(`/api/v1/projects/${aliceSecond.id}/files/input/data.csv`)).status, 404);
    assert.equal((await alice.request('DELETE', `/api/v1/projects/${aliceSecond.id}/files/missing.txt`)).status, 404);
  });

  test('hostile paths never leave the data directory', async () => {
    const base = `/api/v1/projects/${aliceSecond.id}/files`;
    const hostile = ['../../etc/passwd', '%2e%2e/%2e%2e/etc/passwd', '..%2f..%2fetc%2fpasswd', '%2Fetc%2Fpasswd', '/%2Fetc/passwd', 'a%00b', 'input/../../../etc/passwd', '.', '..%5c..%5cetc%5cpasswd'];
    for (const path of hostile) {
      for (const method of ['GET', 'PUT', 'DELETE']) {
        const res = await raw(stack.url, method, `${base}/${path}`, alice.token, method === 'PUT' ? 'pwned' : undefined);
        assert.ok([400, 404].includes(res.status), `${method} ${path} answered ${res.status}: ${res.body}`);
        assert.doesNotMatch(res.body, /root:/, `${method} ${path} leaked a file`);
      }
    }
    assert.equal(existsSync('/etc/pwned'), false);
    assert.equal(existsSync(join(stack.dataDir, 'pwned')), false);
  });

  test('a symlink planted inside that points outside is refused; links inside work; deleting removes only the link', async () => {
    const run = await runWriter(alice, { file: 'target.txt', content: 'inside', links: true }, aliceSecond.id);
    assert.equal((await finished(alice, run.id)).state, 'succeeded');
    const base = `/api/v1/projects/${aliceSecond.id}/files`;
    const listing = (await alice.get(base)).body.items;
    assert.equal(listing.find((e: any) => e.path === 'escape').type, 'symlink');
    for (const path of ['escape/passwd', 'escape', 'escape-file']) {
      const read = await alice.get(`${base}/${path}`);
      assert.equal(read.status, 400, `GET ${path}: ${JSON.stringify(read.body)}`);
      assert.match(read.body.message, /symbolic link/);
    }
    const write = await alice.request('PUT', `${base}/escape/pwned.txt`, 'x', { 'content-type': 'application/octet-stream' });
    assert.equal(write.status, 400);
    assert.equal(existsSync('/etc/pwned.txt'), false);
    const overwrite = await alice.request('PUT', `${base}/escape-file`, 'x', { 'content-type': 'application/octet-stream' });
    assert.equal(overwrite.status, 400);
    assert.equal((await readText(alice, aliceSecond.id, 'inside-link')).text, 'inside', 'a link to a file inside can be read');
    assert.equal((await alice.request('DELETE', `${base}/escape`)).status, 204);
    assert.equal((await alice.request('DELETE', `${base}/escape-file`)).status, 204);
    assert.ok(existsSync('/etc/hostname') || existsSync('/etc/passwd'), 'the link targets are untouched');
    assert.ok(existsSync('/etc'));
    assert.equal((await alice.get(base)).body.items.some((e: any) => e.path.startsWith('escape')), false);
  });

  test('a project with an active run cannot be deleted; once idle its data directory goes with it; the default stays', async () => {
    const run = await runWriter(alice, { file: 'slow.txt', seconds: 3 }, aliceSecond.id);
    await waitFor(async () => (await alice.get(`/api/v1/executions/${run.id}`)).body.state === 'running', 10_000, 'the run to start');
    const refused = await alice.request('DELETE', `/api/v1/projects/${aliceSecond.id}`);
    assert.equal(refused.status, 409);
    assert.match(refused.body.message, new RegExp(`active runs \\(${run.id} running\\)`));
    await finished(alice, run.id);
    const dir = join(stack.dataDir, 'projects', aliceSecond.userId, GROUP, aliceSecond.id);
    assert.ok(existsSync(join(dir, 'slow.txt')), `the data directory is ${dir}`);
    assert.equal((await alice.request('DELETE', `/api/v1/projects/${aliceSecond.id}`)).status, 204);
    assert.equal(existsSync(dir), false, 'the data directory is removed');
    assert.equal((await alice.get(`/api/v1/projects/${aliceSecond.id}`)).status, 404);
    assert.equal((await alice.get(`/api/v1/projects/active?groupId=${GROUP}`)).body.id, aliceDefault.id);
    const keepDefault = await alice.request('DELETE', `/api/v1/projects/${aliceDefault.id}`);
    assert.equal(keepDefault.status, 409);
    assert.match(keepDefault.body.message, /default project/);
  });
});
