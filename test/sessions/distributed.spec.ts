// Interactive sessions with each app in its own process (PostgreSQL, NATS, gRPC over TCP):
// the gateway's proxy learns the upstream from the execution service over gRPC.
//
// Run: npm run build && node scripts/run-tests.mjs integration test/sessions
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Api } from '../harness/api.js';
import { waitFor } from '../harness/net.js';
import { login, startDistributed, type RunningStack } from '../harness/stack.js';
import { enterSession, startSession } from './session-client.js';

const FIXTURES = resolve(import.meta.dirname, '../../../test/sessions/fixtures/script_groups');

describe('interactive sessions (distributed)', () => {
  let stack: RunningStack;
  let api: Api;

  before(async () => {
    stack = await startDistributed({ SCRIPT_GROUPS_DIR: FIXTURES, CANCEL_GRACE_SECONDS: '1', SESSION_IDLE_SECONDS: '60' });
    api = new Api(stack.url, await login(stack.url));
  });
  after(async () => {
    await stack?.stop();
  });

  test('enter, page and WebSocket through the gateway, then close cancels the run', async () => {
    const { run, session } = await startSession(api);
    const { client, cookie } = await enterSession(api, session);
    const page = await client.request('/', { headers: { cookie } });
    assert.equal(page.status, 200);
    assert.match(page.text, /Echo session page/);
    const ws = client.websocket('/ws', { cookie });
    const reply = await new Promise<string>((resolve, reject) => {
      ws.once('open', () => ws.send('ping'));
      ws.once('message', (data) => resolve(String(data)));
      ws.once('error', reject);
    });
    assert.equal(reply, 'echo: ping');
    ws.close();
    assert.equal((await client.request('/')).status, 401);

    const closed = await api.request('DELETE', `/api/v1/sessions/${session.id}`);
    assert.equal(closed.body.state, 'closed');
    const ended = await waitFor(async () => {
      const r = (await api.get(`/api/v1/executions/${run.id}`)).body;
      return ['cancelled', 'succeeded', 'failed'].includes(r.state) ? r : undefined;
    }, 15_000, 'the run to end');
    assert.equal(ended.state, 'cancelled');
  });
});
