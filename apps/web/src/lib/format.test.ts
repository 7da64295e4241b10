import { afterEach, describe, expect, test } from 'vitest';
import { formatBytes, formatDuration, formatTime } from './format.js';
import { plural, setLanguage, t } from './i18n.svelte.js';

describe('formatting in the user language', () => {
  afterEach(() => setLanguage('en'));

  test('durations pick a unit and read in each language', () => {
    expect(formatDuration(850)).toBe('850 ms');
    expect(formatDuration(2345)).toMatch(/^2\.35 s/);
    expect(formatDuration(125_000)).toMatch(/^2 min 5 s/);
    expect(formatDuration(null)).toBe(t('common.none'));
    setLanguage('fr');
    expect(formatDuration(2345)).toMatch(/^2,35\s?s/);
  });

  test('dates follow the language, not a fixed US format', () => {
    const iso = '2026-03-04T15:06:07Z';
    setLanguage('en');
    const english = formatTime(iso);
    setLanguage('it');
    const italian = formatTime(iso);
    expect(english).toMatch(/Mar/);
    expect(italian).toMatch(/mar/);
    expect(italian).not.toBe(english);
  });

  test('sizes and plurals', () => {
    expect(formatBytes(512)).toMatch(/^512\s?byte/);
    expect(formatBytes(1536)).toMatch(/^1\.5\s?kB/);
    expect(plural('groups.scripts', 1)).toBe('1 script');
    expect(plural('groups.scripts', 3)).toBe('3 scripts');
    setLanguage('es');
    expect(plural('search.results', 1200)).toBe('1200 scripts encontrados'.replace('1200', new Intl.NumberFormat('es').format(1200)));
  });

  test('an unknown language falls back to English', () => {
    setLanguage('xx');
    expect(t('nav.history')).toBe('History');
    setLanguage('fr');
    expect(t('nav.history')).toBe('Historique');
  });
});
