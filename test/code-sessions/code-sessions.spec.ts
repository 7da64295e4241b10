import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Api } from '../harness/api.js';
import { waitFor } from '../harness/net.js';
import { login, startAllInOneProcess, type RunningStack } from '../harness/stack.js';

/** Code sessions (seed 004: LiveCode Execution API) in the one-process mode a laptop runs: save, conflict, execute, history, permissions. */
describe('code sessions', { concurrency: false }, () => {
  let stack: RunningStack;
  let admin: Api;
  const users: Record<string, Api> = {};

  const finished = (api: Api, id: string) =>
    waitFor(async () => {
      const run = (await api.get(`/api/v1/executions/${id}`)).body;
      return ['succeeded', 'failed', 'timed_out', 'cancelled', 'lost'].includes(run.state) ? run : undefined;
    }, 20_000, `run ${id} to end; output:\n${stack.output().slice(-3000)}`);

  const logOf = async (api: Api, id: string) => (await api.get(`/api/v1/executions/${id}/log?format=text`)).body as string;

  const create = async (api: Api, body: Record<string, unknown>) => {
    const res = await api.post('/api/v1/code-sessions', body);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body;
  };

  before(async () => {
    stack = await startAllInOneProcess();
    admin = new Api(stack.url, await login(stack.url));
    for (const [username, level] of [['dev', 'developer'], ['dev2', 'developer'], ['ops', 'operator'], ['view', 'viewer']]) {
      const created = await admin.post('/api/v1/users', { username, password: `${username}-password-123`, level });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      users[username] = new Api(stack.url, await login(stack.url, username, `${username}-password-123`));
    }
  });
  after(async () => {
    await stack?.stop();
  });

  test('viewers and operators cannot create code sessions; bad input gets clear 400s', async () => {
    for (const name of ['view', 'ops']) {
      const res = await users[name].post('/api/v1/code-sessions', { name: 'nope', language: 'python', source: 'print(1)' });
      assert.equal(res.status, 403, `${name}: ${JSON.stringify(res.body)}`);
      assert.match(res.body.message, /requires level developer/);
    }
    const badLanguage = await users.dev.post('/api/v1/code-sessions', { name: 'x', language: 'cobol', source: '' });
    assert.equal(badLanguage.status, 400);
    assert.match(badLanguage.body.message, /language must be one of python, bash, javascript/);
    const noName = await users.dev.post('/api/v1/code-sessions', { language: 'python' });
    assert.equal(noName.status, 400);
    assert.match(noName.body.message, /name/);
  });

  test('autosave carries the version it was based on; a stale save gets 409 with the current version', async () => {
    const session = await create(users.dev, { name: 'Autosave', language: 'python', source: 'print("v1")' });
    assert.equal(session.version, 1);
    assert.equal(session.timeoutSeconds, 30, 'default timeout is 30 s');
    const first = await users.dev.request('PATCH', `/api/v1/code-sessions/${session.id}`, { baseVersion: 1, source: 'print("v2")' });
    assert.equal(first.status, 200);
    assert.equal(first.body.version, 2);
    // A second tab still editing version 1.
    const stale = await users.dev.request('PATCH', `/api/v1/code-sessions/${session.id}`, { baseVersion: 1, source: 'print("lost edit")' });
    assert.equal(stale.status, 409);
    assert.equal(stale.body.currentVersion, 2);
    assert.equal(stale.body.current.source, 'print("v2")');
    assert.match(stale.body.message, /based on version 1, the current version is 2/);
    const missingBase = await users.dev.request('PATCH', `/api/v1/code-sessions/${session.id}`, { source: 'x' });
    assert.equal(missingBase.status, 400);
    const renamed = await users.dev.request('PATCH', `/api/v1/code-sessions/${session.id}`, { baseVersion: 2, name: 'Renamed' });
    assert.equal(renamed.body.version, 3);
    assert.equal(renamed.body.source, 'print("v2")', 'fields not sent are kept');
    // Concurrent saves from the same base: exactly one wins.
    const racers = await Promise.all(
      [1, 2, 3].map((n) => users.dev.request('PATCH', `/api/v1/code-sessions/${session.id}`, { baseVersion: 3, source: `print(${n})` })),
    );
    assert.deepEqual(racers.map((r) => r.status).sort(), [200, 409, 409]);
  });

  test("only the owner (and admins) see a code session", async () => {
    const session = await create(users.dev, { name: 'Private', language: 'bash', source: 'echo hi' });
    assert.equal((await users.dev2.get(`/api/v1/code-sessions/${session.id}`)).status, 404);
    assert.equal((await users.dev2.request('PATCH', `/api/v1/code-sessions/${session.id}`, { baseVersion: 1, source: 'rm -rf ~' })).status, 404);
    assert.equal((await users.dev2.post(`/api/v1/code-sessions/${session.id}/execute`)).status, 404);
    assert.equal((await users.dev2.get(`/api/v1/code-sessions/${session.id}/executions`)).status, 404);
    assert.equal((await users.dev2.request('DELETE', `/api/v1/code-sessions/${session.id}`)).status, 404);
    assert.equal((await users.view.get(`/api/v1/code-sessions/${session.id}`)).status, 404);
    assert.ok(!(await users.dev2.get('/api/v1/code-sessions')).body.items.some((s: any) => s.id === session.id));
    assert.equal((await users.dev2.get('/api/v1/code-sessions?allUsers=true')).status, 403);
    assert.equal((await admin.get(`/api/v1/code-sessions/${session.id}`)).status, 200);
    assert.ok((await admin.get('/api/v1/code-sessions?allUsers=true')).body.items.some((s: any) => s.id === session.id));
  });

  test('execute runs the saved source as a run; one active run per session; history lists the runs', async () => {
    const source = [
      'import sys, time',
      'args = sys.argv[1:]',
      'data_dir = args[args.index("--data-dir") + 1]',
      'open(data_dir + "/from-session.txt", "w").write("written by a code session")',
      'print("hello from python", args[args.index("--project-name") + 1])',
      'time.sleep(1.5)',
    ].join('\n');
    const session = await create(users.dev, { name: 'Runner', language: 'python', source });
    const run = await users.dev.post(`/api/v1/code-sessions/${session.id}/execute`);
    assert.equal(run.status, 202, JSON.stringify(run.body));
    assert.equal(run.body.scriptId, `code-session:${session.id}`);
    assert.equal(run.body.scriptName, 'Runner');
    const again = await users.dev.post(`/api/v1/code-sessions/${session.id}/execute`);
    assert.equal(again.status, 409);
    assert.match(again.body.message, new RegExp(`active run ${run.body.id}`));
    assert.equal((await users.dev.get(`/api/v1/code-sessions/${session.id}`)).body.activeExecutionId, run.body.id);
    assert.equal((await users.dev.request('DELETE', `/api/v1/code-sessions/${session.id}`)).status, 409);
    const done = await finished(users.dev, run.body.id);
    assert.equal(done.state, 'succeeded', await logOf(users.dev, run.body.id));
    assert.match(await logOf(users.dev, run.body.id), /hello from python Default/);

    // The run's data directory is the developer's code-sessions project.
    const project = (await users.dev.get('/api/v1/projects/active?groupId=.code-sessions')).body;
    assert.equal(done.projectId, project.id);
    const file = await users.dev.get(`/api/v1/projects/${project.id}/files/from-session.txt`);
    assert.equal(file.body, 'written by a code session');

    // Two executes at once: one run, and the other is told which run is active.
    const [x, y] = await Promise.all([users.dev.post(`/api/v1/code-sessions/${session.id}/execute`), users.dev.post(`/api/v1/code-sessions/${session.id}/execute`)]);
    assert.deepEqual([x.status, y.status].sort(), [202, 409]);
    const winner = x.status === 202 ? x.body : y.body;
    assert.match((x.status === 409 ? x : y).body.message, new RegExp(winner.id));
    await finished(users.dev, winner.id);
    const history = await users.dev.get(`/api/v1/code-sessions/${session.id}/executions`);
    assert.equal(history.status, 200);
    assert.deepEqual(history.body.items.map((r: any) => r.id), [winner.id, run.body.id], 'newest first');
    assert.equal((await admin.get(`/api/v1/code-sessions/${session.id}/executions`)).body.items.length, 2);
    assert.equal((await users.dev.post(`/api/v1/code-sessions/${session.id}/execute`, { version: 7 })).status, 409, 'a version other than the saved one is refused');
  });

  test('bash and javascript sessions run with their interpreters; a session past its timeout is timed_out', async () => {
    const bash = await create(users.dev, { name: 'Bash', language: 'bash', source: 'echo "bash says $((6 * 7))"' });
    const js = await create(users.dev, { name: 'JS', language: 'javascript', source: 'const n = await Promise.resolve(42);\nconsole.log(`node says ${n}`);' });
    const slow = await create(users.dev, { name: 'Slow', language: 'python', source: 'import time\ntime.sleep(30)', timeoutSeconds: 1 });
    const runs = await Promise.all([bash, js, slow].map((s) => users.dev.post(`/api/v1/code-sessions/${s.id}/execute`)));
    for (const r of runs) assert.equal(r.status, 202, JSON.stringify(r.body));
    const [b, j, s] = await Promise.all(runs.map((r) => finished(users.dev, r.body.id)));
    assert.equal(b.state, 'succeeded');
    assert.match(await logOf(users.dev, b.id), /bash says 42/);
    assert.equal(j.state, 'succeeded', await logOf(users.dev, j.id));
    assert.match(await logOf(users.dev, j.id), /node says 42/);
    assert.equal(s.state, 'timed_out');
  });
});
