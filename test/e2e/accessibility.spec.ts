// Every page of the web UI, in the light and the dark theme, checked by axe-core in a real browser
// against the real all-in-one product: no serious or critical violation (WCAG 2.1 A and AA rules).
//
// Run: npm run build && node scripts/run-tests.mjs integration e2e/accessibility
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AxeBuilder } from '@axe-core/playwright';
import { chromium, type Browser, type Page } from 'playwright-core';
import { Api } from '../harness/api.js';
import { ADMIN_PASSWORD, login, startAllInOneProcess, type RunningStack } from '../harness/stack.js';

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'];
const tid = (id: string) => `[data-testid="${id}"]`;

describe('web UI accessibility (axe-core, all-in-one)', { timeout: 180_000 }, () => {
  let stack: RunningStack;
  let browser: Browser;
  let api: Api;
  let runId = '';
  let projectId = '';
  let codeSessionId = '';

  const signIn = async (page: Page, username: string, password: string) => {
    await page.goto(stack.url);
    await page.fill(tid('login-username'), username);
    await page.fill(tid('login-password'), password);
    await page.click(tid('login-submit'));
    await page.locator(tid('group-card')).first().waitFor();
  };
  /** A page of its own (axe needs a context made by the test). */
  const newPage = async (viewport = { width: 1280, height: 900 }) => (await browser.newContext({ viewport })).newPage();
  /** The serious and critical violations on the page as it is now, one line each. */
  const violations = async (page: Page) => {
    const result = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
    return result.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')}`);
  };

  before(async () => {
    [stack, browser] = await Promise.all([startAllInOneProcess(), chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS })]);
    api = new Api(stack.url, await login(stack.url));
    const run = await api.post('/api/v1/executions', { scriptId: 'getting_started/greet.py', parameters: { name: 'Ada' } }, { 'Idempotency-Key': crypto.randomUUID() });
    assert.equal(run.status, 202, JSON.stringify(run.body));
    runId = run.body.id;
    projectId = (await api.get('/api/v1/projects?groupId=getting_started')).body.items[0].id;
    const code = await api.post('/api/v1/code-sessions', { name: 'Scratch', language: 'python', source: 'print("hi")\n' });
    assert.equal(code.status, 201, JSON.stringify(code.body));
    codeSessionId = code.body.id;
    assert.equal((await api.post('/api/v1/users', { username: 'olive', password: 'olive-password-123', level: 'operator' })).status, 201);
  });

  after(async () => {
    await Promise.race([browser?.close().catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 5000))]);
    await stack?.stop();
  });

  test('the sign-in page', async () => {
    const page = await newPage();
    await page.goto(stack.url);
    await page.locator(tid('login-form')).waitFor();
    assert.deepEqual(await violations(page), []);
    await page.context().close();
  });

  for (const theme of ['light', 'dark'] as const) {
    test(`every page of an admin, ${theme} theme`, async () => {
      // The page takes the theme from the user's preferences when it starts.
      assert.equal((await api.request('PATCH', '/api/v1/me', { theme })).status, 200);
      const page = await newPage();
      await signIn(page, 'admin', ADMIN_PASSWORD);
      const pages: Array<[string, string]> = [
        ['#/', 'group-card'],
        ['#/groups/getting_started', 'script-card'],
        ['#/groups/getting_started/greet.py', 'run-form'],
        [`#/runs/${runId}`, 'log-line'],
        ['#/history', 'history-row'],
        ['#/sessions', 'sessions-empty'],
        ['#/settings', 'settings-form'],
        ['#/admin/users', 'user-row'],
        ['#/admin/audit', 'audit-row'],
        ['#/admin/overview', 'overview-check'],
        ['#/code', 'code-row'],
        [`#/code/${codeSessionId}`, 'code-source'],
        [`#/projects/${projectId}`, 'files-table'],
      ];
      const found: string[] = [];
      for (const [hash, ready] of pages) {
        await page.goto(`${stack.url}/${hash}`);
        await page.locator(tid(ready)).first().waitFor();
        assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), theme);
        found.push(...(await violations(page)).map((v) => `${hash}: ${v}`));
      }
      assert.deepEqual(found, []);
      await page.context().close();
    });
  }

  test('a page the level does not allow: a clear "not allowed" page, not offered in the navigation', async () => {
    const page = await newPage({ width: 375, height: 800 });
    await signIn(page, 'olive', 'olive-password-123');
    assert.equal(await page.locator(tid('nav-users')).count(), 0, 'operators are not offered the users page');
    await page.goto(`${stack.url}/#/admin/users`);
    await page.locator(tid('not-allowed')).waitFor();
    assert.equal(await page.locator(tid('new-user-form')).count(), 0);
    assert.deepEqual(await violations(page), []);
    await page.context().close();
  });
});
