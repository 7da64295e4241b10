// The web UI's feature pages in a real browser against the real all-in-one product:
// interactive sessions (open the interface on its own host, heartbeats, My sessions, close),
// the script page (rendered docs in a sandboxed frame, hostile Markdown inert, languages,
// personal tags and tag search), projects (picker, create/rename/delete, run in a project,
// files: upload, list, download, delete), preferences (language and theme without signing out),
// metadata editing with versions and revert, and the admin users page.
//
// Run: npm run build && node scripts/run-tests.mjs integration e2e/features
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROJECT_ROOT } from '#common/paths.js';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { Api } from '../harness/api.js';
import { ADMIN_PASSWORD, login, startAllInOneProcess, type RunningStack } from '../harness/stack.js';

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'];
const tid = (id: string) => `[data-testid="${id}"]`;
const SHOTS = process.env.UI_SCREENSHOTS === '1';

const HOSTILE_DOC = [
  '# Hostile docs',
  '',
  'Plain text stays.',
  '',
  '<script>window.__docsPwned = 1</script>',
  '',
  '<img src="x" onerror="window.__docsPwned = 2">',
  '',
  '[click me](javascript:window.__docsPwned=3)',
  '',
  '```python',
  'print("highlighted")',
  '```',
  '',
].join('\n');

describe('web UI feature pages in a browser (all-in-one)', { timeout: 90_000 }, () => {
  let stack: RunningStack;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let api: Api;
  const pageErrors: string[] = [];
  const dialogAnswers: Array<string | boolean> = [];
  const scriptGroups = mkdtempSync(join(tmpdir(), 'scriptorium-ui-features-'));

  const shot = async (name: string) => {
    if (SHOTS) await page.screenshot({ path: `/tmp/ui-${name}.png`, fullPage: true });
  };
  const runIdFromUrl = () => decodeURIComponent(/#\/runs\/([^/?#]+)$/.exec(page.url())?.[1] ?? '');
  const docsFrameEval = <T>(fn: string) => page.evaluate((body) => new Function('doc', 'win', body)(
    (document.querySelector('[data-testid="script-docs-frame"]') as HTMLIFrameElement).contentDocument,
    (document.querySelector('[data-testid="script-docs-frame"]') as HTMLIFrameElement).contentWindow,
  ) as T, fn);

  before(async () => {
    cpSync(join(PROJECT_ROOT, 'script_groups'), scriptGroups, { recursive: true });
    writeFileSync(
      join(scriptGroups, 'getting_started', 'hostile.py'),
      ['#!/usr/bin/env python3', '"""', 'ScriptsManager Metadata:', '@description: A script whose documentation tries to run code', '@tags: hostile,docs', '"""', 'print("ok")', ''].join('\n'),
    );
    writeFileSync(join(scriptGroups, 'getting_started', 'docs', 'hostile.md'), HOSTILE_DOC);
    [stack, browser] = await Promise.all([startAllInOneProcess({ SCRIPT_GROUPS_DIR: scriptGroups }), chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS })]);
    api = new Api(stack.url, await login(stack.url));
    context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('dialog', (dialog) => {
      const answer = dialogAnswers.shift();
      if (answer === false) void dialog.dismiss();
      else void dialog.accept(typeof answer === 'string' ? answer : undefined);
    });
    await page.goto(stack.url);
    await page.fill(tid('login-username'), 'admin');
    await page.fill(tid('login-password'), ADMIN_PASSWORD);
    await page.click(tid('login-submit'));
    await page.locator(tid('group-card')).first().waitFor();
  });

  after(async () => {
    await Promise.race([browser?.close().catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 5000))]);
    await stack?.stop();
    rmSync(scriptGroups, { recursive: true, force: true });
  });

  test('interactive script: open the interface on its own host, heartbeats, My sessions, close', async () => {
    await page.goto(`${stack.url}/#/groups/system_admin/notes_board.py`);
    await page.locator(tid('script-interactive')).waitFor();
    const firstBeat = page.waitForRequest((r) => r.method() === 'POST' && /\/api\/v1\/sessions\/[0-9a-f-]+\/heartbeat$/.test(r.url()));
    await page.click(tid('run-submit'));
    await page.waitForURL(/#\/runs\//);
    const executionId = runIdFromUrl();
    await page.locator(`${tid('session-open')}:not([disabled])`).waitFor({ timeout: 20_000 });
    await firstBeat;
    const sessionId = (await page.getAttribute(tid('session-panel'), 'data-session-id'))!;
    assert.match(sessionId, /^[0-9a-f-]{36}$/);
    const panelText = (await page.textContent(tid('session-panel'))) ?? '';
    assert.doesNotMatch(panelText, /localhost|127\.0\.0\.1|https?:/, 'no address or port is shown');

    // The interface opens in a new tab on the session's own host, signed in by the one-time link.
    const entry = page.waitForResponse((r) => r.url().endsWith(`/api/v1/sessions/${sessionId}/entry`));
    const [popup] = await Promise.all([context.waitForEvent('page'), page.click(tid('session-open'))]);
    assert.equal((await entry).status(), 201);
    await popup.waitForLoadState('domcontentloaded');
    await popup.locator('h1').waitFor();
    assert.equal(new URL(popup.url()).hostname, `${sessionId}.sessions.localhost`);
    assert.match((await popup.textContent('h1')) ?? '', /Notes/);
    assert.equal(await popup.evaluate(() => window.opener), null, 'opened without an opener');
    await popup.fill('input[name="note"]', 'written from the browser test');
    await Promise.all([popup.waitForLoadState('domcontentloaded'), popup.click('button')]);
    await popup.getByText('written from the browser test').waitFor();
    await popup.close();
    await shot('run-session');

    // A visibility change sends a heartbeat at once.
    const visibleBeat = page.waitForRequest((r) => r.url().endsWith(`/api/v1/sessions/${sessionId}/heartbeat`));
    await page.evaluate(() => document.dispatchEvent(new Event('visibilitychange')));
    await visibleBeat;

    // The note landed in the run's project: the files view shows it and downloads it.
    await page.click(tid('run-project-link'));
    await page.locator(`${tid('file-row')}[data-path="notes.json"]`).waitFor();
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator(`${tid('file-row')}[data-path="notes.json"] ${tid('file-download')}`).click()]);
    assert.match(await readFile((await download.path())!, 'utf8'), /written from the browser test/);

    await page.click(tid('nav-sessions'));
    const row = page.locator(`${tid('session-row')}[data-session-id="${sessionId}"]`);
    await row.waitFor();
    assert.equal(await row.getAttribute('data-state'), 'open');
    assert.doesNotMatch((await page.textContent(tid('session-list'))) ?? '', /localhost|127\.0\.0\.1|https?:/);
    await shot('sessions');

    await page.click(tid('sessions-run-link'));
    await page.locator(`${tid('session-close')}:not([disabled])`).waitFor();
    await page.click(tid('session-close'));
    await page.locator(`${tid('session-state')}[data-state="closed"]`).waitFor();
    await page.locator(`${tid('run-state')}[data-state="cancelled"]`).waitFor({ timeout: 20_000 });
    assert.equal((await api.get(`/api/v1/sessions/${sessionId}`)).body.state, 'closed');
    assert.equal((await api.get(`/api/v1/executions/${executionId}`)).body.state, 'cancelled');
    await page.click(tid('nav-sessions'));
    await page.locator(tid('sessions-empty')).waitFor({ state: 'visible' });
  });

  test('script page: docs rendered in a sandboxed frame, other languages, hostile Markdown inert', async () => {
    await page.goto(`${stack.url}/#/groups/getting_started/greet.py`);
    const frame = page.frameLocator(tid('script-docs-frame'));
    await frame.locator('h1').waitFor();
    assert.equal(await frame.locator('h1').textContent(), 'Greeter');
    assert.ok((await frame.locator('li code').count()) >= 3, 'lists and code rendered');
    const sandbox = (await page.getAttribute(tid('script-docs-frame'), 'sandbox')) ?? '';
    assert.doesNotMatch(sandbox, /allow-scripts/);
    await page.selectOption(tid('docs-language'), 'es');
    await page.waitForFunction(() => (document.querySelector('[data-testid="docs-section"]') as HTMLElement)?.dataset.language === 'es');
    await frame.locator('h1', { hasText: 'Saludador' }).waitFor();
    await shot('script-docs');

    await page.goto(`${stack.url}/#/groups/getting_started/hostile.py`);
    await frame.locator('h1', { hasText: 'Hostile docs' }).waitFor();
    await page.waitForTimeout(300); // give an image error handler the chance to fire
    const inside = await docsFrameEval<{ scripts: number; handlers: number; jsLinks: number; text: string; pwned: unknown }>(
      `return { scripts: doc.querySelectorAll('script').length,
        handlers: [...doc.querySelectorAll('*')].filter((el) => [...el.attributes].some((a) => a.name.startsWith('on'))).length,
        jsLinks: [...doc.querySelectorAll('a')].filter((a) => /^\\s*javascript:/i.test(a.getAttribute('href') ?? '')).length,
        text: doc.body.textContent, pwned: win.__docsPwned };`,
    );
    assert.deepEqual({ scripts: inside.scripts, handlers: inside.handlers, jsLinks: inside.jsLinks, pwned: inside.pwned }, { scripts: 0, handlers: 0, jsLinks: 0, pwned: undefined });
    assert.match(inside.text, /Plain text stays/);
    assert.equal(await page.evaluate(() => (window as unknown as { __docsPwned?: number }).__docsPwned), undefined);
    assert.equal(await page.locator(`${tid('view')} script, ${tid('view')} img`).count(), 0, 'nothing of the docs is in the page itself');
  });

  test('personal tags on the script page; tag search across groups (all / any)', async () => {
    await page.goto(`${stack.url}/#/groups/getting_started/greet.py`);
    await page.locator(`${tid('system-tags')} ${tid('tag-link')}`).first().waitFor();
    await page.fill(tid('personal-tags'), 'favourite, weekly');
    await page.click(tid('personal-tags-save'));
    await page.locator(`${tid('personal-tag-list')} ${tid('tag-link')}`).nth(1).waitFor();
    assert.deepEqual((await api.get('/api/v1/scripts/getting_started/greet.py/tags')).body.personalTags, ['favourite', 'weekly']);

    await page.click(tid('nav-scripts'));
    await page.locator(tid('my-tag')).first().waitFor();
    const results = async () => page.locator(`${tid('catalog-results')} ${tid('script-card')}`).evaluateAll((els) => els.map((el) => (el as HTMLElement).dataset.scriptId).sort());
    await page.fill(tid('catalog-tags'), 'favourite, demo');
    await page.waitForFunction(() => (document.querySelector('[data-testid="catalog-search-panel"]') as HTMLElement).dataset.total === '1');
    assert.deepEqual(await results(), ['getting_started/greet.py'], 'all: a personal tag and a system tag together');
    await page.selectOption(tid('catalog-match'), 'any');
    await page.waitForFunction(() => Number((document.querySelector('[data-testid="catalog-search-panel"]') as HTMLElement).dataset.total) > 1);
    assert.ok((await results()).length >= 7, 'any: every demo script');
    await page.fill(tid('catalog-tags'), 'hostile');
    await page.waitForFunction(() => (document.querySelector('[data-testid="catalog-search-panel"]') as HTMLElement).dataset.total === '1');
    assert.deepEqual(await results(), ['getting_started/hostile.py']);
    await page.click(tid('catalog-clear'));
    await shot('search');
  });

  test('projects: create, choose, run in it, files (upload, download, delete), rename, delete', async () => {
    await page.goto(`${stack.url}/#/groups/getting_started/greet.py`);
    await page.locator(`${tid('project-select')} option`).first().waitFor({ state: 'attached' });
    dialogAnswers.push('Quarterly report');
    await page.click(tid('project-new'));
    await page.waitForFunction(() => [...document.querySelectorAll('[data-testid="project-select"] option')].some((o) => o.textContent === 'Quarterly report'));
    const projectId = await page.inputValue(tid('project-select'));
    await page.waitForFunction(() => (document.querySelector('[data-testid="project-picker"]') as HTMLElement).dataset.activeProjectId);
    assert.equal((await api.get('/api/v1/projects/active?groupId=getting_started')).body.id, projectId, 'the new project is active');

    await page.fill(tid('param-name'), 'Grace');
    await page.click(tid('run-submit'));
    await page.waitForURL(/#\/runs\//);
    await page.locator(`${tid('run-state')}[data-state="succeeded"]`).waitFor({ timeout: 20_000 });
    assert.equal((await api.get(`/api/v1/executions/${runIdFromUrl()}`)).body.projectId, projectId);
    await page.locator(tid('run-project-link'), { hasText: 'Quarterly report' }).waitFor();

    await page.click(tid('run-project-link'));
    await page.locator(tid('files-title')).waitFor();
    await page.setInputFiles(tid('file-upload'), { name: 'data {1}.json', mimeType: 'application/json', buffer: Buffer.from('{"rows": [1, 2, 3]}') });
    const row = page.locator(`${tid('file-row')}[data-path="data {1}.json"]`);
    await row.waitFor();
    const [download] = await Promise.all([page.waitForEvent('download'), row.locator(tid('file-download')).click()]);
    assert.equal(await readFile((await download.path())!, 'utf8'), '{"rows": [1, 2, 3]}', 'uploaded and downloaded byte for byte');
    await shot('files');
    dialogAnswers.push(true);
    await row.locator(tid('file-delete')).click();
    await row.waitFor({ state: 'detached' });
    assert.equal((await api.get(`/api/v1/projects/${projectId}/files`)).body.items.length, 0);

    await page.goto(`${stack.url}/#/groups/getting_started/greet.py`);
    await page.waitForFunction((id) => (document.querySelector('[data-testid="project-select"]') as HTMLSelectElement)?.value === id, projectId);
    dialogAnswers.push('Annual report');
    await page.click(tid('project-rename'));
    await page.waitForFunction(() => [...document.querySelectorAll('[data-testid="project-select"] option')].some((o) => o.textContent === 'Annual report'));
    dialogAnswers.push(true);
    await page.click(tid('project-delete'));
    await page.waitForFunction(() => ![...document.querySelectorAll('[data-testid="project-select"] option')].some((o) => o.textContent === 'Annual report'));
    const left = (await api.get('/api/v1/projects?groupId=getting_started')).body.items;
    assert.deepEqual(left.map((p: { isDefault: boolean }) => p.isDefault), [true], 'only the default project is left');
    assert.equal((await api.get('/api/v1/projects/active?groupId=getting_started')).body.isDefault, true);
  });

  test('preferences: French and dark theme apply at once, without signing out', async () => {
    await page.click(tid('nav-settings'));
    await page.selectOption(tid('pref-language'), 'fr');
    await page.check(tid('pref-theme-dark'));
    await page.click(tid('pref-save'));
    await page.waitForFunction(() => document.documentElement.dataset.theme === 'dark' && document.documentElement.lang === 'fr');
    assert.equal(await page.textContent(tid('nav-history')), 'Historique');
    assert.equal(await page.textContent(tid('logout')), 'Se déconnecter');
    assert.equal(await page.isVisible(tid('login-view')), false, 'still signed in');
    const me = (await api.get('/api/v1/me')).body;
    assert.deepEqual([me.language, me.theme], ['fr', 'dark']);
    await page.click(tid('nav-scripts'));
    await page.locator('h1', { hasText: 'Groupes de scripts' }).waitFor();
    await page.goto(`${stack.url}/#/groups/getting_started/greet.py`);
    await page.locator(tid('run-submit'), { hasText: 'Lancer le script' }).waitFor();
    assert.equal(await page.textContent(tid('script-title')), 'Salutations', 'catalog texts in French too');
    await shot('french-dark');
    await page.reload();
    await page.locator(tid('run-submit'), { hasText: 'Lancer le script' }).waitFor();
    assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'dark', 'kept after a reload');

    await page.click(tid('nav-settings'));
    await page.selectOption(tid('pref-language'), 'en');
    await page.check(tid('pref-theme-light'));
    await page.click(tid('pref-save'));
    await page.waitForFunction(() => document.documentElement.dataset.theme === 'light' && document.documentElement.lang === 'en');
    assert.equal(await page.textContent(tid('nav-history')), 'History');
  });

  test('metadata editor: edit description and docs, versions, revert', async () => {
    await page.goto(`${stack.url}/#/groups/getting_started/hostile.py`);
    await page.click(`${tid('meta-section')} summary`);
    await page.waitForFunction(() => (document.querySelector('[data-testid="meta-long"]') as HTMLTextAreaElement).value.includes('Hostile docs'));
    await page.fill(tid('meta-description'), 'Edited in the browser');
    await page.fill(tid('meta-long'), '# Edited docs\n\n<script>window.__docsPwned = 4</script>\n\n| a | b |\n|---|---|\n| 1 | 2 |\n');
    await page.fill(tid('meta-timeout'), '120');
    await page.fill(tid('meta-comment'), 'from the UI test');
    await page.click(tid('meta-save'));
    await page.locator(tid('script-description'), { hasText: 'Edited in the browser' }).waitFor();
    const frame = page.frameLocator(tid('script-docs-frame'));
    await frame.locator('h1', { hasText: 'Edited docs' }).waitFor();
    assert.equal(await frame.locator('table td').count(), 2, 'Markdown tables rendered');
    assert.equal(await docsFrameEval<number>(`return doc.querySelectorAll('script').length`), 0);
    const script = (await api.get('/api/v1/scripts/getting_started/hostile.py')).body;
    assert.equal(script.timeoutSeconds, 120);
    assert.equal(script.metadataVersion, 1);

    await page.click(`${tid('meta-section')} summary`);
    await page.locator(`${tid('meta-version')}[data-version="1"]`).waitFor();
    await shot('metadata');
    await page.locator(`${tid('meta-version')}[data-version="0"] ${tid('meta-revert')}`).click();
    await page.locator(tid('script-description'), { hasText: 'A script whose documentation tries to run code' }).waitFor();
    await frame.locator('h1', { hasText: 'Hostile docs' }).waitFor();
    const reverted = (await api.get('/api/v1/scripts/getting_started/hostile.py')).body;
    assert.deepEqual([reverted.edited, reverted.metadataVersion, reverted.timeoutSeconds === 120], [false, 2, false]);
  });

  test('admin users page: create, change level, deactivate', async () => {
    await page.click(tid('nav-users'));
    await page.locator(`${tid('user-row')}[data-username="admin"]`).waitFor();
    await page.fill(tid('new-username'), 'carol');
    await page.fill(tid('new-password'), 'carol-password-123');
    await page.selectOption(tid('new-level'), 'viewer');
    await page.click(tid('new-user-submit'));
    const row = page.locator(`${tid('user-row')}[data-username="carol"]`);
    await row.waitFor();
    assert.equal(await row.getAttribute('data-level'), 'viewer');
    await row.locator(tid('user-level-select')).selectOption('developer');
    await page.locator(`${tid('user-row')}[data-username="carol"][data-level="developer"]`).waitFor();
    await page.locator(`${tid('user-row')}[data-username="carol"] ${tid('user-toggle-active')}`).click();
    await page.locator(`${tid('user-row')}[data-username="carol"][data-active="false"]`).waitFor();
    await page.fill(tid('user-search'), 'car');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="user-row"]').length === 1);
    await shot('users');
    const users = (await api.get('/api/v1/users?search=carol')).body.items;
    assert.deepEqual(users.map((u: { level: string; active: boolean }) => [u.level, u.active]), [['developer', false]]);
    assert.deepEqual(pageErrors, [], 'no uncaught errors in the page');
  });
});
