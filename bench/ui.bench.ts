import { chromium } from 'playwright-core';
import { Api } from '../test/harness/api.js';
import { ADMIN_PASSWORD, login, startAllInOneProcess } from '../test/harness/stack.js';
import { BENCH_GROUPS, verdict } from './run-overhead.bench.js';

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'];

/**
 * The web UI's log viewer in Chromium: a `live`-line flood watched as it streams (how long after
 * the run's end its last line is in the page, the longest main-thread task, DOM size), then the
 * finished runs reopened (`live` lines, and `reopen` lines when given).
 */
export async function runUiBench(live = 100_000, reopen = Number(process.env.BENCH_UI_REOPEN_LINES ?? 1_000_000)) {
  const [stack, browser] = await Promise.all([
    startAllInOneProcess({ SCRIPT_GROUPS_DIR: BENCH_GROUPS, LOG_LEVEL: 'warn' }),
    chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS }),
  ]);
  try {
    const api = new Api(stack.url, await login(stack.url));
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    // Every main-thread task over 50 ms the page runs, from its first load on.
    await page.addInitScript(() => {
      const tasks: number[] = [];
      (window as unknown as { __longTasks: number[] }).__longTasks = tasks;
      new PerformanceObserver((list) => list.getEntries().forEach((e) => tasks.push(e.duration))).observe({ type: 'longtask', buffered: true });
    });
    await page.goto(stack.url);
    await page.fill('[data-testid="login-username"]', 'admin');
    await page.fill('[data-testid="login-password"]', ADMIN_PASSWORD);
    await page.click('[data-testid="login-submit"]');
    await page.locator('[data-testid="group-card"]').first().waitFor();

    const shownAll = (n: number) => page.waitForFunction((want) => document.querySelector('[data-testid="log-scroll"]')?.getAttribute('data-lines') === String(want), n, { timeout: 300_000, polling: 10 });
    const longTasks = () => page.evaluate(() => (window as unknown as { __longTasks: number[] }).__longTasks.splice(0));

    // Live: open the run page first, then start the flood from the API, as another tab would.
    await page.goto(`${stack.url}/#/history`);
    const execution = { body: await api.run('bench/flood.py', { lines: live }) };
    await page.goto(`${stack.url}/#/runs/${execution.body.id}`);
    await longTasks();
    await shownAll(live);
    const lastShownAt = Date.now();
    const finished = await api.finished(execution.body.id, 120_000);
    const lagMs = lastShownAt - Date.parse(finished.finishedAt ?? new Date().toISOString());
    const liveTasks = await longTasks();
    const domNodes = await page.evaluate(() => document.getElementsByTagName('*').length);
    const rows = await page.locator('[data-testid="log-line"]').count();
    console.log(`\nWeb UI log viewer (Chromium, all-in-one, ${live.toLocaleString()}-line flood watched live)`);
    console.log(`  last line in the page ${lagMs} ms after the run's end (target under 1000 ms) ${verdict(lagMs < 1000)}`);
    console.log(`  longest main-thread task while streaming ${Math.round(Math.max(0, ...liveTasks))} ms, ${liveTasks.length} over 50 ms (target none over 200 ms) ${verdict(liveTasks.every((d) => d <= 200))}`);
    console.log(`  DOM: ${domNodes} elements, ${rows} log rows for ${live.toLocaleString()} lines`);

    const reopenFinished = async (id: string, lines: number) => {
      await page.goto(`${stack.url}/#/history`);
      await longTasks();
      const started = Date.now();
      await page.goto(`${stack.url}/#/runs/${id}`);
      await shownAll(lines);
      return { ms: Date.now() - started, tasks: await longTasks() };
    };
    const again = await reopenFinished(execution.body.id, live);
    console.log(`  reopening the finished run: all ${live.toLocaleString()} lines in ${again.ms} ms, longest task ${Math.round(Math.max(0, ...again.tasks))} ms`);

    if (reopen > 0) {
      const big = await api.run('bench/flood.py', { lines: reopen });
      await api.finished(big.id, 300_000);
      const opened = await reopenFinished(big.id, reopen);
      console.log(`  a finished ${reopen.toLocaleString()}-line run opens in ${opened.ms} ms (target under 2000 ms) ${verdict(opened.ms < 2000)}, longest task ${Math.round(Math.max(0, ...opened.tasks))} ms`);
    }
    return { lagMs, longestTaskMs: Math.max(0, ...liveTasks), domNodes, reopenMs: again.ms };
  } finally {
    await browser.close().catch(() => undefined);
    await stack.stop();
  }
}
