import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Api } from '../harness/api.js';
import { ADMIN_PASSWORD, login, startAllInOneProcess, startDistributed, type RunningStack } from '../harness/stack.js';

/**
 * The foundation's path, end to end, against the real product in each mode:
 * log in, list the catalog, run with parameters, watch it live, find it in history.
 */
for (const mode of ['all-in-one', 'distributed'] as const) {
  describe(`run path (${mode})`, { concurrency: false }, () => {
    let stack: RunningStack;
    let api: Api;

    before(async () => {
      stack = mode === 'all-in-one' ? await startAllInOneProcess() : await startDistributed();
      api = new Api(stack.url, await login(stack.url));
    });
    after(async () => {
      await stack?.stop();
    });

    test('login refuses a wrong password and requests without a valid token', async () => {
      const anonymous = new Api(stack.url);
      const wrong = await anonymous.post('/api/v1/auth/login', { username: 'admin', password: 'not-the-password' });
      assert.equal(wrong.status, 401);
      assert.match(wrong.body.message, /invalid username or password/i);
      const missing = await anonymous.get('/api/v1/groups');
      assert.equal(missing.status, 401);
      assert.match(missing.body.message, /bearer token/i);
      const tampered = await new Api(stack.url, `${api.token.slice(0, -4)}AAAA`).get('/api/v1/groups');
      assert.equal(tampered.status, 401);
      const me = await api.get('/api/v1/me');
      assert.equal(me.status, 200);
      assert.equal(me.body.username, 'admin');
      assert.ok(ADMIN_PASSWORD);
    });

    test('the catalog lists the example groups and their parsed scripts', async () => {
      const groups = await api.get('/api/v1/groups');
      assert.equal(groups.status, 200);
      assert.ok(groups.body.some((g: any) => g.id === 'getting_started' && g.scriptCount > 0));
      const scripts = await api.get('/api/v1/groups/getting_started/scripts');
      const greet = scripts.body.find((s: any) => s.id === 'getting_started/greet.py');
      assert.ok(greet?.valid, 'greet.py is listed and valid');
      assert.deepEqual(
        greet.parameters.map((p: any) => p.name),
        ['name', 'times', 'shout'],
      );
      assert.equal(greet.parametersSchema.properties.times.maximum, 10);
    });

    test('a run with parameters streams its output live and ends succeeded', async () => {
      const execution = await api.run('getting_started/greet.py', { name: 'Ada', times: 3 });
      assert.equal(execution.state, 'starting', 'with a free slot and an empty queue a run is claimed as it is stored');
      const { done } = api.stream(execution.id);
      const result = await done;
      assert.ok(result.ended, 'the stream ends with an end event');
      assert.deepEqual(
        result.lines.filter((l) => l.stream === 'stdout').map((l) => l.text),
        ['Hello, Ada!', 'Hello, Ada!', 'Hello, Ada!'],
      );
      assert.deepEqual(result.lines.map((l) => l.sequence), result.lines.map((_, i) => i + 1));
      const final = result.executions.at(-1);
      assert.equal(final.state, 'succeeded');
      assert.equal(final.exitCode, 0);
      assert.ok(final.durationMs > 0);
      assert.deepEqual(final.result, { greeted: 'Ada', times: 3, language: 'en' });

      const history = await api.get('/api/v1/executions');
      assert.ok(history.body.items.some((e: any) => e.id === execution.id && e.state === 'succeeded'));
      const log = await api.get(`/api/v1/executions/${execution.id}/log?format=text`);
      assert.equal(log.status, 200);
      assert.equal(log.body, 'Hello, Ada!\nHello, Ada!\nHello, Ada!\n');
    });

    test('a failing script ends failed with its exit code and error', async () => {
      const execution = await api.run('getting_started/failing_task.py', { reason: 'disk on fire' });
      const result = await api.stream(execution.id).done;
      const final = result.executions.at(-1);
      assert.equal(final.state, 'failed');
      assert.equal(final.exitCode, 3);
      assert.match(final.error, /disk on fire/);
      assert.ok(result.lines.some((l) => l.stream === 'stderr' && l.text.includes('disk on fire')));
    });

    test('a reconnecting client resumes from the last line it saw, without gaps or duplicates', async () => {
      const execution = await api.run('getting_started/countdown.py', { seconds: 2 });
      const first = await api.stream(execution.id, { stopAfterLines: 2 }).done;
      assert.equal(first.lines.length, 2);
      const last = first.lines.at(-1)!.sequence;
      const rest = await api.stream(execution.id, { after: last }).done;
      assert.ok(rest.ended);
      const all = [...first.lines, ...rest.lines].map((l) => l.sequence);
      assert.deepEqual(all, all.map((_, i) => i + 1), 'sequences are 1..n exactly once');
      const stored = await api.get(`/api/v1/executions/${execution.id}/log?format=json&limit=10000`);
      assert.deepEqual(
        stored.body.lines.map((l: any) => l.text),
        [...first.lines, ...rest.lines].map((l) => l.text),
      );
      assert.equal(stored.body.complete, true);
    });

    test('bad input gets a clear 4xx and starts nothing', async () => {
      const before = (await api.get('/api/v1/executions?pageSize=200')).body.items.length;
      const unknown = await api.post('/api/v1/executions', { scriptId: 'getting_started/nope.py', parameters: {} });
      assert.equal(unknown.status, 404);
      assert.match(unknown.body.message, /not found/i);
      const missing = await api.post('/api/v1/executions', { scriptId: 'getting_started/greet.py', parameters: { times: 2 } });
      assert.equal(missing.status, 400);
      assert.equal(missing.body.fields.name, 'is required');
      const illTyped = await api.post('/api/v1/executions', { scriptId: 'getting_started/greet.py', parameters: { name: 'x', times: 'many' } });
      assert.equal(illTyped.status, 400);
      assert.match(illTyped.body.fields.times, /whole number/);
      const tooBig = await api.post('/api/v1/executions', { scriptId: 'getting_started/greet.py', parameters: { name: 'x', times: 99 } });
      assert.equal(tooBig.status, 400);
      assert.equal(tooBig.body.fields.times, 'must be at most 10');
      const notObject = await api.post('/api/v1/executions', { scriptId: 'getting_started/greet.py', parameters: [1] });
      assert.equal(notObject.status, 400);
      const badJson = await api.request('POST', '/api/v1/executions', '{"scriptId":', { 'content-type': 'application/json' });
      assert.equal(badJson.status, 400);
      const unknownRun = await api.get('/api/v1/executions/00000000-0000-4000-8000-000000000000');
      assert.equal(unknownRun.status, 404);
      const after = (await api.get('/api/v1/executions?pageSize=200')).body.items.length;
      assert.equal(after, before, 'no run was created');
    });
  });
}
