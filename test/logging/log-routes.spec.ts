import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { startPostgres, type TestPostgres } from '../harness/postgres.js';
import { login, startAllInOneProcess, type RunningStack } from '../harness/stack.js';

/**
 * The gateway's log routes (REST, text download, SSE, WebSocket) for an execution id that
 * is not a UUID: 404 like any unknown run (logging used to send it to PostgreSQL: 500).
 */

describe('log routes with an id that is not a UUID', { timeout: 120_000 }, () => {
  let postgres: TestPostgres | undefined;
  let stack: RunningStack | undefined;
  let token: string;

  before(async () => {
    postgres = await startPostgres();
    stack = await startAllInOneProcess({ DATABASE_URL: postgres.url });
    token = await login(stack.url);
  });

  after(async () => {
    await stack?.stop();
    await postgres?.stop();
  });

  const ids = ['not-a-uuid', "1' OR '1'='1", randomUUID()];
  const get = (path: string) => fetch(`${stack!.url}${path}`, { headers: { authorization: `Bearer ${token}` } });

  it('GET …/log (JSON and text) answers 404', async () => {
    for (const id of ids) {
      for (const query of ['', '?format=text']) {
        const res = await get(`/api/v1/executions/${encodeURIComponent(id)}/log${query}`);
        assert.equal(res.status, 404, `${id}${query}: ${res.status} ${await res.text()}`);
      }
    }
  });

  it('SSE …/events answers 404, or ends with an error event of status 404 once the stream started', async () => {
    for (const id of ids) {
      const res = await get(`/api/v1/executions/${encodeURIComponent(id)}/events`);
      const body = await res.text();
      if (res.status === 404) continue;
      assert.equal(res.status, 200, `${id}: ${body}`);
      const error = /event: error\ndata: (.*)\n/.exec(body);
      assert.ok(error, `${id}: ${body}`);
      assert.equal(JSON.parse(error[1]).status, 404, `${id}: ${body}`);
    }
  });

  it('WebSocket …/stream sends an error frame of status 404', async () => {
    for (const id of ids) {
      const ws = new WebSocket(`${stack!.url.replace('http', 'ws')}/api/v1/executions/${encodeURIComponent(id)}/stream`, ['scriptorium.v1', `bearer.${token}`]);
      const frame = await new Promise<{ type: string; status: number }>((resolve, reject) => {
        ws.on('message', (data) => {
          const message = JSON.parse(String(data));
          if (message.type === 'error') resolve(message);
        });
        ws.on('error', reject);
        ws.on('close', () => reject(new Error(`${id}: closed without an error frame`)));
      });
      ws.close();
      assert.equal(frame.status, 404, `${id}: ${JSON.stringify(frame)}`);
    }
  });
});
