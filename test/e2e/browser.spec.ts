// The web UI in a real browser against the real all-in-one product (embedded database,
// local runtime): sign in, browse the catalog, run a script with typed parameters, see a
// server-side parameter error beside its field, watch a long run live, reload mid-run and
// get every line exactly once and in order, find both runs in history, download the log.
// It also measures how long a printed line takes to reach the page.
//
// Run: npm run build && node scripts/run-tests.mjs integration e2e
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROJECT_ROOT } from '#common/paths.js';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { ADMIN_PASSWORD, login, startAllInOneProcess, type RunningStack } from '../harness/stack.js';

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'];
const COUNTDOWN_SECONDS = 6;

interface LogLine {
  sequence: number;
  stream: string;
  text: string;
  timestamp: string;
}

const tid = (id: string) => `[data-testid="${id}"]`;

describe('web UI in a browser (all-in-one)', { timeout: 90_000 }, () => {
  let stack: RunningStack;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let token: string;
  let greetId = '';
  let countdownId = '';
  const pageErrors: string[] = [];

  const rest = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${stack.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200, `${path}: ${res.status}`);
    return (res.headers.get('content-type') ?? '').includes('json') ? ((await res.json()) as T) : ((await res.text()) as T);
  };
  const allLogLines = async (id: string) => (await rest<{ lines: LogLine[]; complete: boolean }>(`/api/v1/executions/${id}/log?format=json&after=0&limit=10000`)).lines;
  const domLines = () =>
    page.$$eval('[data-testid="log-line"]', (els) =>
      els.map((el) => ({ sequence: Number((el as HTMLElement).dataset.sequence), stream: (el as HTMLElement).dataset.stream ?? '', text: el.querySelector('.log-text')?.textContent ?? '' })),
    );
  const runIdFromUrl = () => {
    const match = /#\/runs\/([^/?#]+)$/.exec(page.url());
    assert.ok(match, `expected a run URL, got ${page.url()}`);
    return decodeURIComponent(match[1]);
  };

  // The example groups plus one script whose header is broken: listed, flagged, not runnable.
  const scriptGroups = mkdtempSync(join(tmpdir(), 'scriptorium-ui-groups-'));

  before(async () => {
    const started = Date.now();
    cpSync(join(PROJECT_ROOT, 'script_groups'), scriptGroups, { recursive: true });
    writeFileSync(
      join(scriptGroups, 'getting_started', 'broken.py'),
      ['#!/usr/bin/env python3', '"""', 'ScriptsManager Metadata:', '@description: A script whose parameters do not parse', '@parameters: [{"name": ', '"""', 'print("never")', ''].join('\n'),
    );
    [stack, browser] = await Promise.all([startAllInOneProcess({ SCRIPT_GROUPS_DIR: scriptGroups }), chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS })]);
    token = await login(stack.url);
    context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1200, height: 900 } });
    // Records, on every page load, when each log line is added to the DOM (wall clock, like the line's timestamp).
    await context.addInitScript(() => {
      // Keeps every WebSocket the page opens, so the test can cut one and watch the page resume.
      const NativeWebSocket = window.WebSocket;
      const sockets: WebSocket[] = [];
      (window as unknown as { __sockets: WebSocket[] }).__sockets = sockets;
      window.WebSocket = class extends NativeWebSocket {
        constructor(url: string | URL, protocols?: string | string[]) {
          super(url, protocols);
          sockets.push(this);
        }
      };
      const seen: Record<string, number> = {};
      (window as unknown as { __lineSeenAt: Record<string, number> }).__lineSeenAt = seen;
      new MutationObserver((records) => {
        const now = performance.timeOrigin + performance.now();
        for (const record of records)
          for (const node of record.addedNodes)
            if (node instanceof HTMLElement && node.dataset.testid === 'log-line') {
              const run = node.closest<HTMLElement>('[data-testid="run-view"]')?.dataset.executionId ?? '';
              seen[`${run}:${node.dataset.sequence}`] ??= now;
            }
      }).observe(document, { childList: true, subtree: true });
    });
    page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    console.log(`product and browser ready in ${Date.now() - started} ms`);
  });

  after(async () => {
    const started = Date.now();
    await Promise.race([browser?.close().catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 5000))]);
    await stack?.stop();
    rmSync(scriptGroups, { recursive: true, force: true });
    console.log(`stopped in ${Date.now() - started} ms`);
  });

  test('signs in through the form and shows the groups', async () => {
    await page.goto(stack.url);
    await page.locator(tid('login-form')).waitFor();
    await page.fill(tid('login-username'), 'admin');
    await page.fill(tid('login-password'), 'wrong-password');
    await page.click(tid('login-submit'));
    await page.locator(`${tid('login-error')}:not([hidden])`).waitFor();
    await page.fill(tid('login-password'), ADMIN_PASSWORD);
    await page.click(tid('login-submit'));
    await page.locator(tid('group-card')).first().waitFor();
    const groups = await page.locator(tid('group-card')).evaluateAll((els) => els.map((el) => (el as HTMLElement).dataset.groupId));
    assert.ok(groups.includes('getting_started'), `groups shown: ${groups}`);
    assert.equal(await page.textContent(tid('user-name')), 'admin');
    const stored = await page.evaluate(() => JSON.parse(sessionStorage.getItem('scriptorium.session') ?? 'null'));
    assert.ok(stored?.accessToken && stored?.refreshToken, 'token pair kept in sessionStorage');
  });

  test('opens getting_started and runs greet.py: lines arrive, state succeeded, exit code 0, duration', async () => {
    await page.click(tid('group-link-getting_started'));
    await page.locator(`[data-script-id="getting_started/greet.py"]`).waitFor();
    const broken = page.locator(`[data-script-id="getting_started/broken.py"]`);
    assert.equal(await broken.getAttribute('data-valid'), 'false', 'the broken script is listed as invalid');
    assert.match((await broken.locator(tid('script-invalid')).textContent()) ?? '', /Not runnable: \S/);
    assert.equal(await broken.locator('a, button').count(), 0, 'and cannot be opened to run');
    await page.click(tid('open-script-greet.py'));
    await page.locator(tid('run-form')).waitFor();
    assert.equal(await page.inputValue(tid('param-times')), '1', 'default filled in');
    assert.equal(await page.getAttribute(tid('param-times'), 'max'), '10');
    assert.equal(await page.getAttribute(tid('param-name'), 'required'), '');
    assert.equal(await page.getAttribute(tid('param-shout'), 'type'), 'checkbox');
    await page.fill(tid('param-name'), 'Ada');
    await page.fill(tid('param-times'), '3');
    await page.click(tid('run-submit'));
    await page.waitForURL(/#\/runs\//);
    greetId = runIdFromUrl();
    await page.locator(`${tid('run-state')}[data-state="succeeded"]`).waitFor({ timeout: 20_000 });
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="log-line"]').length >= 3);
    const lines = await domLines();
    assert.deepEqual(lines.map((l) => l.text), ['Hello, Ada!', 'Hello, Ada!', 'Hello, Ada!']);
    assert.deepEqual(lines.map((l) => l.stream), ['stdout', 'stdout', 'stdout']);
    assert.equal(await page.textContent(tid('run-exit-code')), '0');
    const durationMs = await page.getAttribute(tid('run-duration'), 'data-ms');
    assert.match(durationMs ?? '', /^\d+$/, 'duration shown');
    assert.match((await page.textContent(tid('run-duration'))) ?? '', /\d/);
    assert.deepEqual(JSON.parse((await page.textContent(tid('run-result'))) ?? 'null'), { greeted: 'Ada', times: 3, language: 'en' });
    assert.equal(await page.isHidden(tid('run-cancel')), true, 'no cancel button once finished');
    const execution = await rest<{ parameters: Record<string, unknown> }>(`/api/v1/executions/${greetId}`);
    assert.deepEqual(execution.parameters, { name: 'Ada', times: 3, shout: false }, 'values sent as typed JSON');
  });

  test('a bad parameter shows the server field error beside its input and starts nothing', async () => {
    const before = (await rest<{ items: unknown[] }>('/api/v1/executions?pageSize=50')).items.length;
    await page.goto(`${stack.url}/#/groups/getting_started/greet.py`);
    await page.locator(tid('run-form')).waitFor();
    await page.fill(tid('param-name'), 'Ada');
    await page.fill(tid('param-times'), '99');
    await page.click(tid('run-submit'));
    const error = page.locator(`${tid('param-error-times')}:not([hidden])`);
    await error.waitFor();
    assert.match((await error.textContent()) ?? '', /at most 10/);
    assert.equal(await page.getAttribute(tid('param-times'), 'aria-invalid'), 'true');
    assert.ok(((await page.getAttribute(tid('param-times'), 'aria-describedby')) ?? '').includes((await error.getAttribute('id'))!));
    assert.match(page.url(), /#\/groups\/getting_started\/greet\.py$/, 'still on the form');
    const afterCount = (await rest<{ items: unknown[] }>('/api/v1/executions?pageSize=50')).items.length;
    assert.equal(afterCount, before, 'no run started');
  });

  test('countdown.py: lines arrive in well under a second; a reload mid-run keeps every line exactly once, in order', async () => {
    await page.goto(`${stack.url}/#/groups/getting_started/countdown.py`);
    await page.locator(tid('run-form')).waitFor();
    await page.fill(tid('param-seconds'), String(COUNTDOWN_SECONDS));
    await page.click(tid('run-submit'));
    await page.waitForURL(/#\/runs\//);
    countdownId = runIdFromUrl();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="log-line"]').length >= 4, undefined, { timeout: 15_000 });

    // Latency: each line's own timestamp (set by the product when it read the line) vs when the DOM showed it.
    const seenAt = await page.evaluate(() => (window as unknown as { __lineSeenAt: Record<string, number> }).__lineSeenAt);
    const stamped = await page.$$eval('[data-testid="log-line"]', (els) => els.map((el) => [(el as HTMLElement).dataset.sequence!, (el as HTMLElement).dataset.timestamp!] as const));
    const latencies = stamped.map(([sequence, timestamp]) => seenAt[`${countdownId}:${sequence}`] - Date.parse(timestamp));
    assert.ok(latencies.length >= 4 && latencies.every(Number.isFinite), `latencies: ${latencies}`);
    const worst = Math.max(...latencies);
    console.log(`line latency (printed -> shown in the page), ms: ${latencies.map((l) => l.toFixed(1)).join(', ')}; worst ${worst.toFixed(1)}`);
    assert.ok(worst < 1000, `a line took ${worst.toFixed(0)} ms to reach the page`);

    // An unexpected close: the page reconnects from the last sequence it saw.
    const cut = await page.evaluate(() => {
      const sockets = (window as unknown as { __sockets: WebSocket[] }).__sockets;
      const last = Number([...document.querySelectorAll<HTMLElement>('[data-testid="log-line"]')].at(-1)!.dataset.sequence);
      sockets.at(-1)!.close(4000, 'test cuts the stream');
      return { count: sockets.length, last };
    });
    await page.waitForFunction((n) => (window as unknown as { __sockets: WebSocket[] }).__sockets.length > n, cut.count);
    const resumedUrl = await page.evaluate(() => (window as unknown as { __sockets: WebSocket[] }).__sockets.at(-1)!.url);
    assert.match(resumedUrl, new RegExp(`/api/v1/executions/${countdownId}/stream\\?after=${cut.last}$`));
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid="log-line"]').length > n, cut.last);
    const afterCut = await domLines();
    assert.deepEqual(afterCut.map((l) => l.sequence), Array.from({ length: afterCut.length }, (_, i) => i + 1), 'no gap or duplicate after the reconnect');

    // Reload mid-run.
    assert.equal(await page.getAttribute(tid('run-state'), 'data-state'), 'running');
    const beforeReload = (await domLines()).length;
    assert.ok(beforeReload < COUNTDOWN_SECONDS * 2, 'reloading before the run has printed everything');
    await page.reload();
    await page.locator(tid('run-view')).waitFor();
    await page.locator(`${tid('run-state')}[data-state="running"]`).waitFor();
    await page.waitForFunction(() => (window as unknown as { __sockets: WebSocket[] }).__sockets.length > 0);
    const firstUrlAfterReload = await page.evaluate(() => (window as unknown as { __sockets: WebSocket[] }).__sockets[0].url);
    await page.locator(`${tid('run-state')}[data-state="succeeded"]`).waitFor({ timeout: 20_000 });
    await page.locator(`${tid('run-live-status')}[data-status="ended"]`).waitFor();
    const stored = await allLogLines(countdownId);
    assert.ok(stored.length >= COUNTDOWN_SECONDS * 2, `stored ${stored.length} lines`);
    const shown = await domLines();
    assert.deepEqual(shown, stored.map(({ sequence, stream, text }) => ({ sequence, stream, text })), 'the page shows the stored log exactly');
    assert.deepEqual(shown.map((l) => l.sequence), Array.from({ length: shown.length }, (_, i) => i + 1), 'every sequence once, in order');
    assert.match(firstUrlAfterReload, /\?after=0$/, 'after a reload the page asks for the whole log once');
    const reloadSeen = await page.evaluate(() => Object.keys((window as unknown as { __lineSeenAt: Record<string, number> }).__lineSeenAt));
    assert.equal(reloadSeen.length, shown.length, 'after the reload each line was added to the page once');
    assert.equal(await page.textContent(tid('run-exit-code')), '0');
    assert.equal(await page.getAttribute(tid('run-progress'), 'value'), '100');
  });

  test('history lists both runs and links to the run view', async () => {
    await page.click(tid('nav-history'));
    await page.locator(tid('history-row')).first().waitFor();
    const rows = await page.locator(tid('history-row')).evaluateAll((els) =>
      els.map((el) => ({ id: (el as HTMLElement).dataset.executionId, state: (el as HTMLElement).dataset.state, text: el.textContent ?? '' })),
    );
    assert.deepEqual(rows.map((r) => r.id), [countdownId, greetId], 'both runs, newest first, and nothing from the rejected submit');
    assert.ok(rows.every((r) => r.state === 'succeeded'));
    assert.match(rows[0].text, /Countdown/);
    assert.match(rows[1].text, /Greeter/);
    const duration = await page.locator(tid('history-duration')).first().textContent();
    assert.match(duration ?? '', /\d+(\.\d+)? s/);
    await page.locator(tid('history-link')).nth(1).click();
    await page.waitForURL(new RegExp(`#/runs/${greetId}$`));
    await page.locator(`${tid('run-state')}[data-state="succeeded"]`).waitFor();
    await page.locator(`${tid('run-live-status')}[data-status="ended"]`).waitFor();
    assert.deepEqual((await domLines()).map((l) => l.text), ['Hello, Ada!', 'Hello, Ada!', 'Hello, Ada!']);
  });

  test('the full log can be downloaded', async () => {
    await page.goto(`${stack.url}/#/runs/${countdownId}`);
    await page.locator(`${tid('run-state')}[data-state="succeeded"]`).waitFor();
    const [download] = await Promise.all([page.waitForEvent('download'), page.click(tid('run-download'))]);
    assert.equal(download.suggestedFilename(), `execution-${countdownId}.log`);
    const text = await readFile((await download.path())!, 'utf8');
    assert.equal(text, await rest<string>(`/api/v1/executions/${countdownId}/log?format=text`));
    assert.match(text, new RegExp(`${COUNTDOWN_SECONDS}\\.0 s left\\n`));
  });

  test('script output is shown as text, never as markup', async () => {
    await page.goto(`${stack.url}/#/groups/getting_started/greet.py`);
    await page.locator(tid('run-form')).waitFor();
    await page.fill(tid('param-name'), '<img src=x onerror="window.__pwned=1"><b>bold</b>');
    await page.click(tid('run-submit'));
    await page.waitForURL(/#\/runs\//);
    await page.locator(`${tid('run-state')}[data-state="succeeded"]`).waitFor({ timeout: 20_000 });
    const text = await page.locator(tid('log-line')).first().locator('.log-text').textContent();
    assert.equal(text, 'Hello, <img src=x onerror="window.__pwned=1"><b>bold</b>!');
    assert.equal(await page.locator(`${tid('run-log')} img, ${tid('run-log')} b`).count(), 0);
    assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined);
  });

  test('a rejected access token is refreshed (rotating the pair) and the request retried', async () => {
    const before = await page.evaluate(() => {
      const session = JSON.parse(sessionStorage.getItem('scriptorium.session')!);
      sessionStorage.setItem('scriptorium.session', JSON.stringify({ ...session, accessToken: 'not-a-valid-token' }));
      return session;
    });
    await page.goto(`${stack.url}/#/history`);
    await page.reload();
    await page.locator(tid('history-row')).first().waitFor();
    assert.equal(await page.isVisible(tid('login-view')), false, 'still signed in');
    const after = await page.evaluate(() => JSON.parse(sessionStorage.getItem('scriptorium.session')!));
    assert.notEqual(after.accessToken, 'not-a-valid-token');
    assert.notEqual(after.refreshToken, before.refreshToken, 'the new refresh token is stored');
    assert.deepEqual(pageErrors, [], 'no uncaught errors in the page');
  });
});
