import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { gunzipSync } from 'node:zlib';
import { login, startAllInOneProcess, type RunningStack } from '../harness/stack.js';

/**
 * /api/v1/logs end to end in all-in-one mode on the embedded database (PGlite): a real run's
 * context, its lines by stream, search, export, statistics, retention and deletion.
 * (The authorization matrix runs the same routes on PostgreSQL.)
 */

describe('logs API on the embedded database', { timeout: 180_000 }, () => {
  let stack: RunningStack | undefined;
  let token: string;
  let runId: string;

  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${stack!.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let json: any;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, text, json, headers: res.headers };
  };

  before(async () => {
    stack = await startAllInOneProcess();
    token = await login(stack.url);
    const run = await call('POST', '/api/v1/executions', { scriptId: 'getting_started/greet.py', parameters: { name: 'Grace', times: 2 } });
    assert.equal(run.status, 202, run.text);
    runId = run.json.id;
    const deadline = Date.now() + 60_000;
    for (;;) {
      const state = (await call('GET', `/api/v1/executions/${runId}`)).json?.state;
      const log = (await call('GET', `/api/v1/logs/${runId}`)).json;
      if (['succeeded', 'failed'].includes(state) && log?.complete && log?.run?.state === state) break;
      if (Date.now() > deadline) throw new Error(`run ${runId} did not end: ${state}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  });

  after(async () => {
    await stack?.stop();
  });

  it('knows the run’s context and keeps its lines by stream', async () => {
    const { json } = await call('GET', `/api/v1/logs/${runId}`);
    assert.equal(json.run.scriptId, 'getting_started/greet.py');
    assert.equal(json.run.groupId, 'getting_started');
    assert.equal(json.run.state, 'succeeded');
    assert.equal(json.run.exitCode, 0);
    assert.ok(json.run.durationMs >= 0, JSON.stringify(json));
    const stdout = await call('GET', `/api/v1/logs/${runId}/lines?streams=stdout`);
    assert.ok(stdout.json.lines.length >= 2, stdout.text);
    assert.ok(stdout.json.lines.every((l: { stream: string }) => l.stream === 'stdout'));
    assert.deepEqual((await call('GET', `/api/v1/logs/${runId}/lines?streams=system`)).json.lines, []);
    assert.equal((await call('GET', `/api/v1/logs/${runId}/lines?streams=debug`)).status, 400);
  });

  it('keeps the context execution publishes: project, the owner’s level and the parameters with secrets masked', async () => {
    const run = await call('POST', '/api/v1/executions', { scriptId: 'getting_started/env_report.py', parameters: { token: 'hunter2-secret', since: '2026-01-02' } });
    assert.equal(run.status, 202, run.text);
    const id = run.json.id;
    const deadline = Date.now() + 60_000;
    let log: any;
    for (;;) {
      log = (await call('GET', `/api/v1/logs/${id}`)).json;
      if (log?.complete && ['succeeded', 'failed'].includes(log?.run?.state)) break;
      if (Date.now() > deadline) throw new Error(`run ${id} did not end: ${JSON.stringify(log)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(log.run.projectId, run.json.projectId, JSON.stringify(log));
    assert.ok(log.run.projectName, JSON.stringify(log));
    const parameters = JSON.parse(log.run.parametersJson);
    assert.equal(parameters.since, '2026-01-02', log.run.parametersJson);
    assert.ok(parameters.token && parameters.token !== 'hunter2-secret', log.run.parametersJson);
    const export_ = await call('GET', `/api/v1/logs/${id}/export?format=jsonl`);
    assert.doesNotMatch(export_.text, /hunter2/);
    // The level is seen through a retention policy by level: the admin's runs are covered by one for admins only.
    const policy = await call('PUT', '/api/v1/logs/retention-policies', { scope: 'level', target: 'admin', maxBytesPerUser: 1 });
    assert.equal(policy.status, 200, policy.text);
    try {
      const dry = await call('POST', '/api/v1/logs/cleanup', { dryRun: true });
      assert.ok(dry.json.items.some((item: { executionId: string }) => item.executionId === id), dry.text);
    } finally {
      assert.equal((await call('DELETE', `/api/v1/logs/retention-policies/${policy.json.id}`)).status, 204);
    }
  });

  it('finds the run by its output, across logs and inside the log', async () => {
    const across = await call('GET', '/api/v1/logs/search?q=grace');
    assert.equal(across.status, 200, across.text);
    const hit = across.json.hits.find((h: { run: { executionId: string } }) => h.run.executionId === runId);
    assert.ok(hit, across.text);
    assert.ok(hit.matchingLines.length >= 2);
    assert.equal(hit.snippets[0].text.slice(hit.snippets[0].highlights[0].start, hit.snippets[0].highlights[0].end).toLowerCase(), 'grace');
    const inside = await call('GET', `/api/v1/logs/${runId}/search?q=grace`);
    assert.deepEqual(inside.json.matches.map((m: { sequence: number }) => m.sequence), hit.matchingLines);
    const bad = await call('GET', '/api/v1/logs/search?q=%22grace');
    assert.equal(bad.status, 400);
    assert.match(bad.json.message, /quote is not closed/);
  });

  it('exports the log with its context, and a filtered set as a tar.gz; an unknown format is 400', async () => {
    const jsonl = await call('GET', `/api/v1/logs/${runId}/export?format=jsonl`);
    assert.equal(jsonl.status, 200);
    assert.equal(jsonl.headers.get('content-type'), 'application/x-ndjson');
    assert.match(jsonl.headers.get('content-disposition')!, new RegExp(`execution-${runId}\\.jsonl`));
    const [head, ...lines] = jsonl.text.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(head.type, 'run');
    assert.equal(head.script, 'getting_started/greet.py');
    assert.equal(head.state, 'succeeded');
    assert.ok(lines.some((l) => /Grace/.test(l.text)));
    const archive = await fetch(`${stack!.url}/api/v1/logs/export?format=csv&groupId=getting_started`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(archive.status, 200);
    assert.match(gunzipSync(Buffer.from(await archive.arrayBuffer())).toString(), new RegExp(`${runId},getting_started/greet.py`));
    const unknown = await call('GET', `/api/v1/logs/${runId}/export?format=pdf`);
    assert.equal(unknown.status, 400);
    assert.match(unknown.json.message, /text.*jsonl.*csv/);
  });

  it('counts the run in the statistics, cleans up on request, and a deleted log says so', async () => {
    const stats = await call('GET', '/api/v1/logs/statistics');
    assert.ok(stats.json.runs >= 1 && stats.json.scripts.some((s: { scriptId: string }) => s.scriptId === 'getting_started/greet.py'), stats.text);
    assert.equal((await call('PUT', '/api/v1/logs/retention-policies', { scope: 'group', target: 'getting_started', keepDays: 0 })).status, 400);
    const policy = await call('PUT', '/api/v1/logs/retention-policies', { scope: 'group', target: 'getting_started', maxRunsPerScript: 5 });
    assert.equal(policy.status, 200, policy.text);
    const dry = await call('POST', '/api/v1/logs/cleanup', { dryRun: true });
    assert.equal(dry.status, 200, dry.text);
    assert.equal(dry.json.runs, 0);
    assert.equal((await call('DELETE', `/api/v1/logs/retention-policies/${policy.json.id}`)).status, 204);
    assert.equal((await call('DELETE', `/api/v1/logs/${runId}`)).status, 204);
    const deleted = await call('GET', `/api/v1/logs/${runId}/lines`);
    assert.deepEqual(deleted.json.lines, []);
    assert.equal(deleted.json.deletion.reason, 'deleted by its owner');
    assert.ok((await call('GET', `/api/v1/logs/${runId}`)).json.deletion.deletedAt);
  });
});
