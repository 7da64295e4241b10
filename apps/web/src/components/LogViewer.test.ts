import { fireEvent, render, screen } from '@testing-library/svelte';
import { tick } from 'svelte';
import { beforeAll, describe, expect, test } from 'vitest';
import { LogModel } from '../lib/log-model.js';
import type { LogLine } from '../lib/schemas.js';
import LogViewer from './LogViewer.svelte';

const lines = (n: number, text = (i: number) => `line ${i}`): LogLine[] =>
  Array.from({ length: n }, (_, i) => ({ sequence: i + 1, stream: 'stdout', timestamp: '2026-01-01T00:00:00Z', text: text(i + 1) }));

const rendered = () => [...document.querySelectorAll<HTMLElement>('[data-testid="log-line"]')];

describe('LogViewer', () => {
  // happy-dom has no layout: the viewport is 400 px high, each row 20 px, as in a browser.
  beforeAll(() => {
    Object.defineProperty(HTMLElement.prototype, 'offsetHeight', { configurable: true, get() { return this.classList.contains('log-scroll') ? 400 : 20; } });
    Object.defineProperty(HTMLElement.prototype, 'offsetWidth', { configurable: true, get() { return 800; } });
  });

  test('a 100,000-line log puts only the rows on screen in the DOM', async () => {
    const model = new LogModel();
    model.append(lines(100_000));
    render(LogViewer, { model, revision: 1 });
    await tick();
    const rows = rendered();
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.length).toBeLessThan(100);
    expect(document.querySelector('[data-testid="log-scroll"]')!.getAttribute('data-lines')).toBe('100000');
  });

  test('ANSI colours become styles; the text stays text, never markup', async () => {
    const model = new LogModel();
    model.append([
      { sequence: 1, stream: 'stdout', timestamp: '', text: '\u001b[31mred\u001b[0m plain' },
      { sequence: 2, stream: 'stderr', timestamp: '', text: '<img src=x onerror=alert(1)>' },
    ]);
    render(LogViewer, { model, revision: 1 });
    await tick();
    const [first, second] = rendered();
    expect(first.querySelector('.log-text')!.textContent).toBe('red plain');
    expect(first.querySelector<HTMLElement>('.log-text span')!.getAttribute('style')).toMatch(/color: rgb\(187, 0, 0\)/);
    expect(second.dataset.stream).toBe('stderr');
    expect(second.querySelector('.log-text')!.textContent).toBe('<img src=x onerror=alert(1)>');
    expect(second.querySelector('img')).toBeNull();
  });

  test('find counts the matches over the whole log and moves between them', async () => {
    const model = new LogModel();
    model.append(lines(5000, (i) => (i % 1000 === 0 ? `\u001b[1mERROR\u001b[0m at ${i}` : `ok ${i}`)));
    render(LogViewer, { model, revision: 1 });
    const search = screen.getByTestId('log-search') as HTMLInputElement;
    await fireEvent.input(search, { target: { value: 'error' } });
    expect(screen.getByTestId('log-match-count').textContent).toBe('1/5');
    await fireEvent.click(screen.getByTestId('log-next'));
    expect(screen.getByTestId('log-match-count').textContent).toBe('2/5');
    await fireEvent.click(screen.getByTestId('log-prev'));
    await fireEvent.click(screen.getByTestId('log-prev'));
    expect(screen.getByTestId('log-match-count').textContent).toBe('5/5');
    expect((screen.getByTestId('log-follow') as HTMLInputElement).checked).toBe(false);
  });

  test('lines appended later are shown', async () => {
    const model = new LogModel();
    const view = render(LogViewer, { model, revision: 0 });
    expect(screen.getByTestId('run-log-empty')).toBeTruthy();
    model.append(lines(3));
    await view.rerender({ model, revision: 1 });
    await tick();
    expect(rendered().map((r) => r.dataset.sequence)).toEqual(['1', '2', '3']);
    expect(screen.queryByTestId('run-log-empty')).toBeNull();
  });
});
