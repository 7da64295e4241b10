// Interactive sessions end to end, over the real all-in-one process: the session is served
// from its own host name, entered with a one-time token, proxied (HTTP and WebSocket) only
// for its owner and admins, stripped of the product's credentials, culled when idle.
//
// Run: npm run build && node scripts/run-tests.mjs integration sessions
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium } from 'playwright-core';
import { Api } from '../harness/api.js';
import { waitFor } from '../harness/net.js';
import { login, startAllInOneProcess, type RunningStack } from '../harness/stack.js';
import { enterSession, keepAlive, scriptPortOf, SessionClient, startSession } from './session-client.js';

const FIXTURES = resolve(import.meta.dirname, '../../../test/sessions/fixtures/script_groups');
const IDLE_SECONDS = 3;
const ENTRY_SECONDS = 2;
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'];
const TERMINAL = ['succeeded', 'failed', 'timed_out', 'cancelled', 'lost'];

describe('interactive sessions (all-in-one)', { concurrency: false }, () => {
  let stack: RunningStack;
  let admin: Api;
  let alice: Api;
  let bob: Api;

  before(async () => {
    stack = await startAllInOneProcess({
      SCRIPT_GROUPS_DIR: FIXTURES,
      SESSION_IDLE_SECONDS: String(IDLE_SECONDS),
      SESSION_ENTRY_SECONDS: String(ENTRY_SECONDS),
      MAX_SESSIONS_PER_USER: '2',
      MAX_SESSIONS: '3',
      CANCEL_GRACE_SECONDS: '1',
    });
    admin = new Api(stack.url, await login(stack.url));
    for (const username of ['alice', 'bob']) {
      const created = await admin.post('/api/v1/users', { username, password: `${username}-password-1`, level: 'operator' });
      assert.equal(created.status, 201, JSON.stringify(created.body));
    }
    alice = new Api(stack.url, await login(stack.url, 'alice', 'alice-password-1'));
    bob = new Api(stack.url, await login(stack.url, 'bob', 'bob-password-1'));
  });
  after(async () => {
    await stack?.stop();
  });

  const runEnded = (api: Api, id: string) =>
    waitFor(async () => {
      const run = (await api.get(`/api/v1/executions/${id}`)).body;
      return TERMINAL.includes(run.state) ? run : undefined;
    }, 15_000, `run ${id} to end`);
  const sessionClosed = (api: Api, id: string, timeoutMs = 15_000) =>
    waitFor(async () => {
      const session = (await api.get(`/api/v1/sessions/${id}`)).body;
      return session.state === 'closed' ? session : undefined;
    }, timeoutMs, `session ${id} to close`);
  const close = (api: Api, id: string) => api.request('DELETE', `/api/v1/sessions/${id}`);

  test('the owner enters through a one-time link and sees the page on the session host; no port is ever shown', async () => {
    const { run, session } = await startSession(alice);
    const stop = keepAlive(alice, session.id);
    try {
      const gatewayPort = new URL(stack.url).port;
      assert.equal(session.url, `http://${session.id}.sessions.localhost:${gatewayPort}/`, 'served from its own host name');
      assert.equal(session.state, 'open');
      assert.equal(session.executionId, run.id);

      const entry = await alice.post(`/api/v1/sessions/${session.id}/entry`);
      assert.equal(entry.status, 201);
      assert.match(entry.body.url, new RegExp(`^http://${session.id}\\.sessions\\.localhost:${gatewayPort}/__scriptorium/enter\\?token=[\\w-]{40,}$`));
      const client = new SessionClient(stack.url, session.url);
      const entered = await client.enter(entry.body.url);
      assert.equal(entered.status, 302);
      assert.equal(entered.headers.location, '/');
      const setCookie = [entered.headers['set-cookie']].flat()[0]!;
      assert.match(setCookie, /^scriptorium-session=[\w-]{40,}; /);
      assert.match(setCookie, /; HttpOnly/);
      assert.match(setCookie, /; SameSite=Lax/);
      assert.match(setCookie, /; Path=\//);
      assert.doesNotMatch(setCookie, /Domain=/i, 'scoped to the session host alone');
      assert.doesNotMatch(setCookie, /Secure/, 'plain http here; Secure over https');
      const cookie = SessionClient.cookieOf(entered);

      const page = await client.waitReady(cookie);
      assert.match(page.text, /Echo session page/);
      const scriptCookie = [page.headers['set-cookie']].flat().find((c) => c?.startsWith('app_cookie='));
      assert.ok(scriptCookie && !/domain=/i.test(scriptCookie), `the script's cookies lose any Domain (${scriptCookie})`);

      // The script listens on a loopback port only the proxy knows: no API answer names it.
      const port = scriptPortOf(run.id);
      assert.ok(port && port > 0, 'the script was given a real port');
      const answers = [
        await alice.get(`/api/v1/sessions/${session.id}`),
        await alice.get('/api/v1/sessions'),
        await alice.post(`/api/v1/sessions/${session.id}/heartbeat`),
        await admin.get('/api/v1/sessions?all=true&includeClosed=true'),
        await alice.get(`/api/v1/executions/${run.id}`),
      ];
      for (const answer of answers) {
        assert.equal(answer.status, 200);
        const text = JSON.stringify(answer.body);
        assert.doesNotMatch(text, new RegExp(`\\b${port}\\b`), `the port appears in ${text}`);
        assert.doesNotMatch(text, /127\.0\.0\.1|upstream|"port"/i);
      }
    } finally {
      stop();
      await close(alice, session.id);
    }
  });

  test("the product's Authorization header and cookies never reach the script; the product API is not served on a session host", async () => {
    const { session } = await startSession(alice);
    const stop = keepAlive(alice, session.id);
    try {
      const { client, cookie } = await enterSession(alice, session);
      const echo = await client.request('/headers', {
        headers: { authorization: `Bearer ${alice.token}`, cookie: `${cookie}; scriptorium_refresh=product-secret; app_cookie=kept` },
      });
      assert.equal(echo.status, 200);
      const headers = new Map<string, string>(echo.json().headers);
      assert.equal(headers.get('authorization'), undefined, 'Authorization stripped');
      assert.equal(headers.get('cookie'), 'app_cookie=kept', "only the script's own cookies pass");
      assert.doesNotMatch(echo.text, new RegExp(alice.token.slice(-20)));
      assert.doesNotMatch(echo.text, new RegExp(cookie.split('=')[1]), 'the session cookie is stripped too');

      // /api/v1/* on a session host is the script's, never the product's (with or without a session cookie).
      const me = await client.request('/api/v1/me', { headers: { authorization: `Bearer ${alice.token}`, cookie } });
      assert.equal(me.status, 200);
      assert.equal(me.json().path, '/api/v1/me', 'answered by the script');
      assert.equal(me.json().username, undefined);
      const anonymousMe = await client.request('/api/v1/me', { headers: { authorization: `Bearer ${alice.token}` } });
      assert.equal(anonymousMe.status, 401);
      assert.match(String(anonymousMe.headers['content-type']), /text\/html/);
      const loginOnSessionHost = await client.request('/api/v1/auth/login', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'alice', password: 'alice-password-1' }),
      });
      assert.equal(loginOnSessionHost.status, 401);
      assert.doesNotMatch(loginOnSessionHost.text, /accessToken/);
      // The bare sessions domain and a host naming no session serve nothing either.
      const bare = new SessionClient(stack.url, `http://sessions.localhost:${client.port}/`);
      assert.equal((await bare.request('/api/v1/me', { headers: { authorization: `Bearer ${alice.token}` } })).status, 404);
    } finally {
      stop();
      await close(alice, session.id);
    }
  });

  test('another user, an anonymous client, a forged cookie and a cross-origin request are refused; an admin may enter', async () => {
    const { session } = await startSession(alice);
    const stopAlice = keepAlive(alice, session.id);
    const { session: bobs } = await startSession(bob);
    const stopBob = keepAlive(bob, bobs.id);
    try {
      const { client, cookie } = await enterSession(alice, session);
      // Bob cannot see, enter, heartbeat or close Alice's session: it does not exist for him.
      assert.equal((await bob.get(`/api/v1/sessions/${session.id}`)).status, 404);
      assert.equal((await bob.post(`/api/v1/sessions/${session.id}/entry`)).status, 404);
      assert.equal((await bob.post(`/api/v1/sessions/${session.id}/heartbeat`)).status, 404);
      assert.equal((await close(bob, session.id)).status, 404);
      assert.ok(!(await bob.get('/api/v1/sessions')).body.items.some((s: { id: string }) => s.id === session.id));
      assert.equal((await bob.get('/api/v1/sessions?all=true')).status, 403, 'only admins list everyone');
      // Bob's own (valid) session cookie does not open Alice's session.
      const { cookie: bobCookie } = await enterSession(bob, bobs);
      const crossed = await client.request('/', { headers: { cookie: bobCookie } });
      assert.equal(crossed.status, 403);
      assert.match(crossed.text, /not valid/);

      const anonymous = await client.request('/');
      assert.equal(anonymous.status, 401);
      assert.match(anonymous.text, /not signed in to this session/);
      assert.equal(anonymous.headers['cache-control'], 'no-store');
      const forged = await client.request('/', { headers: { cookie: 'scriptorium-session=forged-value-forged-value-forged-value-123' } });
      assert.equal(forged.status, 403);
      // A product bearer token is not a session credential.
      assert.equal((await client.request('/', { headers: { authorization: `Bearer ${alice.token}` } })).status, 401);
      // A form posted from another site (or another session's page) is refused before the script.
      const crossSite = await client.request('/notes', { method: 'POST', headers: { cookie, origin: 'http://evil.example', 'content-type': 'text/plain' }, body: 'x' });
      assert.equal(crossSite.status, 403);
      const sameOrigin = await client.request('/notes', { method: 'POST', headers: { cookie, origin: session.url.slice(0, -1), 'content-type': 'text/plain' }, body: 'x' });
      assert.equal(sameOrigin.status, 200);

      // Admins see everyone's sessions and may enter them.
      const all = await admin.get('/api/v1/sessions?all=true');
      assert.ok(all.body.items.some((s: { id: string }) => s.id === session.id));
      const { client: adminClient, cookie: adminCookie } = await enterSession(admin, session);
      assert.equal((await adminClient.request('/', { headers: { cookie: adminCookie } })).status, 200);
    } finally {
      stopAlice();
      stopBob();
      await close(alice, session.id);
      await close(bob, bobs.id);
    }
  });

  test('an entry token is single-use, expires, and opens only its own session', async () => {
    const { session } = await startSession(alice);
    const stop = keepAlive(alice, session.id);
    try {
      const client = new SessionClient(stack.url, session.url);
      const first = (await alice.post(`/api/v1/sessions/${session.id}/entry`)).body.url;
      assert.equal((await client.enter(first)).status, 302);
      const again = await client.enter(first);
      assert.equal(again.status, 403, 'used once already');
      assert.match(again.text, /not valid/);
      assert.equal(again.headers['set-cookie'], undefined);

      const late = (await alice.post(`/api/v1/sessions/${session.id}/entry`)).body.url;
      await new Promise((r) => setTimeout(r, ENTRY_SECONDS * 1000 + 600));
      assert.equal((await client.enter(late)).status, 403, 'expired');

      // A token minted for this session, presented on another session's host.
      const { session: other } = await startSession(alice);
      try {
        const token = new URL((await alice.post(`/api/v1/sessions/${session.id}/entry`)).body.url).searchParams.get('token')!;
        const otherClient = new SessionClient(stack.url, other.url);
        assert.equal((await otherClient.request(`/__scriptorium/enter?token=${token}`)).status, 403);
        assert.equal((await otherClient.request('/__scriptorium/enter?token=')).status, 403);
      } finally {
        await close(alice, other.id);
      }
    } finally {
      stop();
      await close(alice, session.id);
    }
  });

  test('WebSocket upgrades are proxied with the session cookie, refused without it', async () => {
    const { session } = await startSession(alice);
    const stop = keepAlive(alice, session.id);
    try {
      const { client, cookie } = await enterSession(alice, session);
      const ws = client.websocket('/ws', { cookie });
      const reply = await new Promise<string>((resolve, reject) => {
        ws.once('open', () => ws.send('hello through the proxy'));
        ws.once('message', (data) => resolve(String(data)));
        ws.once('error', reject);
      });
      assert.equal(reply, 'echo: hello through the proxy');
      ws.close();

      const refused = (headers: Record<string, string>, path = '/ws') =>
        new Promise<number>((resolve, reject) => {
          const socket = client.websocket(path, headers);
          socket.once('unexpected-response', (req, res) => {
            resolve(res.statusCode ?? 0);
            req.destroy();
          });
          socket.once('open', () => reject(new Error('upgrade was accepted')));
          socket.once('error', () => undefined);
        });
      assert.equal(await refused({}), 401);
      assert.equal(await refused({ cookie, origin: 'http://evil.example' }), 403);
      // The product's live stream is not reachable on a session host, even with a bearer token.
      assert.equal(await refused({ 'sec-websocket-protocol': `scriptorium.v1, bearer.${alice.token}` }, `/api/v1/executions/${session.executionId}/stream`), 401);
    } finally {
      stop();
      await close(alice, session.id);
    }
  });

  test('heartbeats keep a session alive; without them it is closed and its run cancelled', async () => {
    const { run, session } = await startSession(alice);
    const { client, cookie } = await enterSession(alice, session);
    const stop = keepAlive(alice, session.id);
    await new Promise((r) => setTimeout(r, (IDLE_SECONDS + 2) * 1000));
    const alive = (await alice.get(`/api/v1/sessions/${session.id}`)).body;
    assert.equal(alive.state, 'open', 'heartbeats kept it open past the idle time');
    assert.equal((await client.request('/', { headers: { cookie } })).status, 200);
    stop();
    const closed = await sessionClosed(alice, session.id, (IDLE_SECONDS + 8) * 1000);
    assert.match(closed.closedReason, /idle/);
    assert.equal((await runEnded(alice, run.id)).state, 'cancelled');
    await new Promise((r) => setTimeout(r, 2100)); // past the proxy's upstream cache
    const after = await client.request('/', { headers: { cookie } });
    assert.equal(after.status, 410);
    assert.match(after.text, /ended/);
    assert.equal((await alice.post(`/api/v1/sessions/${session.id}/heartbeat`)).status, 409);
    assert.equal((await alice.post(`/api/v1/sessions/${session.id}/entry`)).status, 409);
  });

  test('closing a session cancels its run; a session ends when its run ends', async () => {
    const { run, session } = await startSession(alice);
    const stop = keepAlive(alice, session.id);
    try {
      const { client, cookie } = await enterSession(alice, session);
      const closed = await close(alice, session.id);
      assert.equal(closed.status, 200);
      assert.equal(closed.body.state, 'closed');
      assert.equal(closed.body.closedReason, 'closed by alice');
      assert.equal((await runEnded(alice, run.id)).state, 'cancelled');
      await new Promise((r) => setTimeout(r, 2100));
      assert.equal((await client.request('/', { headers: { cookie } })).status, 410);
    } finally {
      stop();
    }

    const short = await startSession(alice, { lifetime: 1 });
    const stopShort = keepAlive(alice, short.session.id);
    try {
      assert.equal((await runEnded(alice, short.run.id)).state, 'succeeded');
      const ended = await sessionClosed(alice, short.session.id, 5000);
      assert.equal(ended.closedReason, 'its run ended (succeeded)');
    } finally {
      stopShort();
    }
  });

  test("in a browser, a session page cannot call the product's API as its user", async () => {
    const { session } = await startSession(alice);
    const stop = keepAlive(alice, session.id);
    const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
    try {
      const port = new URL(stack.url).port;
      const productOrigin = `http://localhost:${port}`;
      const context = await browser.newContext();
      // The product's tab: logged in, its tokens in the product origin's sessionStorage (as the web UI keeps them).
      const product = await context.newPage();
      await product.goto(`${productOrigin}/`);
      await product.evaluate((token) => sessionStorage.setItem('scriptorium.session', JSON.stringify({ accessToken: token })), alice.token);
      const fromProduct = await product.evaluate(async (token) => (await fetch('/api/v1/me', { headers: { authorization: `Bearer ${token}` } })).status, alice.token);
      assert.equal(fromProduct, 200, 'the product origin itself can call its API');

      // The session tab, opened with an entry link: the browser resolves *.sessions.localhost to loopback.
      const entry = (await alice.post(`/api/v1/sessions/${session.id}/entry`)).body.url;
      const page = await context.newPage();
      await waitFor(async () => {
        const response = await page.goto(entry === '' ? page.url() : entry).catch(() => null);
        if (response?.status() === 200) return true;
        await page.waitForTimeout(200);
        return false;
      }, 10_000, 'the session page to answer in the browser');
      assert.equal(page.url(), session.url, 'redirected to the session root on its own host');
      assert.match(await page.content(), /Echo session page/);

      const seen = await page.evaluate(async (origin) => {
        const attempt = async (init: RequestInit) => {
          try {
            const response = await fetch(`${origin}/api/v1/me`, init);
            return { type: response.type, status: response.status, body: await response.text() };
          } catch (error) {
            return { error: String(error) };
          }
        };
        const sameHost = await fetch('/api/v1/me').then((r) => r.json());
        return {
          cookie: document.cookie,
          storage: sessionStorage.getItem('scriptorium.session'),
          withCredentials: await attempt({ credentials: 'include' }),
          noCors: await attempt({ mode: 'no-cors', credentials: 'include' }),
          sameHost,
        };
      }, productOrigin);
      assert.equal(seen.storage, null, "the product's tokens are not readable from the session origin");
      assert.doesNotMatch(seen.cookie, /scriptorium/, 'the session cookie is HttpOnly');
      assert.match(String(seen.withCredentials.error), /TypeError/, `a cross-origin API call fails (no CORS): ${JSON.stringify(seen.withCredentials)}`);
      assert.equal(seen.noCors.type, 'opaque', 'a no-cors call gives an unreadable response');
      assert.equal(seen.noCors.body, '');
      assert.equal(seen.sameHost.path, '/api/v1/me', "on its own host the page reaches only its script, never the product's API");
      const headers = new Map<string, string>(seen.sameHost.headers);
      assert.equal(headers.get('authorization'), undefined);
      assert.ok(!headers.get('cookie')?.includes('scriptorium'), `no session or product cookie reached the script: ${headers.get('cookie')}`);
      await context.close();
    } finally {
      await browser.close();
      stop();
      await close(alice, session.id);
    }
  });

  test('per-user and global session limits answer 429 with a clear message', async () => {
    const opened: { api: Api; id: string; stop: () => void }[] = [];
    const open = async (api: Api) => {
      const { session } = await startSession(api);
      opened.push({ api, id: session.id, stop: keepAlive(api, session.id) });
    };
    try {
      await open(alice);
      await open(alice);
      const third = await alice.post('/api/v1/executions', { scriptId: 'sessions/echo_page.py', parameters: {} });
      assert.equal(third.status, 429);
      assert.match(third.body.message, /already have 2 open interactive sessions.*\(2\).*close one/);
      assert.ok(Number(third.headers.get('retry-after')) > 0);

      await open(bob);
      const global = await admin.post('/api/v1/executions', { scriptId: 'sessions/echo_page.py', parameters: {} });
      assert.equal(global.status, 429);
      assert.match(global.body.message, /limit of 3 open interactive sessions/);

      // Closing one frees a slot.
      await close(alice, opened[0].id);
      await open(alice);
    } finally {
      for (const o of opened) {
        o.stop();
        await close(o.api, o.id);
      }
    }
  });
});
