// @vitest-environment node
// Every language has every string, and no .svelte template shows text that is not from a locale file.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'svelte/compiler';
import { describe, expect, test } from 'vitest';
import en from './en.json';
import es from './es.json';
import fr from './fr.json';
import it from './it.json';

const SRC = fileURLToPath(new URL('..', import.meta.url));
/** Attributes a user reads or hears. */
const TEXT_ATTRIBUTES = new Set(['title', 'placeholder', 'alt', 'aria-label', 'aria-description', 'aria-placeholder', 'aria-roledescription', 'label']);

function svelteFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? svelteFiles(join(dir, e.name)) : e.name.endsWith('.svelte') ? [join(dir, e.name)] : []));
}

/** Literal text in a template: text nodes and static text attributes that hold a letter. */
export function hardCodedTexts(source: string): string[] {
  const ast = parse(source, { modern: true });
  const found: string[] = [];
  const visit = (node: unknown) => {
    if (!node || typeof node !== 'object') return;
    if (Array.isArray(node)) return node.forEach(visit);
    const n = node as { type?: string; data?: string; attributes?: Array<{ type: string; name?: string; value?: unknown }> };
    if (n.type === 'Text' && typeof n.data === 'string' && /\p{L}/u.test(n.data)) found.push(n.data.trim());
    for (const a of n.attributes ?? [])
      if (a.type === 'Attribute' && a.name && TEXT_ATTRIBUTES.has(a.name) && Array.isArray(a.value))
        for (const part of a.value as Array<{ type: string; data?: string }>) if (part.type === 'Text' && /\p{L}/u.test(part.data ?? '')) found.push(`${a.name}="${part.data}"`);
    // Text lives in fragments (element bodies, blocks, snippets); class names and other attributes are not shown.
    for (const [key, value] of Object.entries(node)) if (!['parent', 'metadata', 'attributes'].includes(key) && value && typeof value === 'object') visit(value);
  };
  visit(ast.fragment);
  return found;
}

describe('locales', () => {
  const reference = Object.keys(en).sort();
  test.each([['es', es], ['it', it], ['fr', fr]] as const)('%s has exactly the keys of en', (_name, dict) => {
    expect(Object.keys(dict).sort()).toEqual(reference);
  });
  test.each([['en', en], ['es', es], ['it', it], ['fr', fr]] as const)('%s has no empty string and the placeholders of en', (_name, dict) => {
    for (const [key, text] of Object.entries(dict)) {
      expect(text.trim(), key).not.toBe('');
      const names = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
      expect(names(text), key).toEqual(names((en as Record<string, string>)[key]));
    }
  });

  test('no .svelte template has user-visible text of its own', () => {
    const offenders = svelteFiles(SRC).flatMap((file) => hardCodedTexts(readFileSync(file, 'utf8')).map((text) => `${file.slice(SRC.length)}: ${text}`));
    expect(offenders).toEqual([]);
  });

  test('the check finds text and text attributes, and lets expressions and symbols through', () => {
    expect(hardCodedTexts('<p>Hello</p><input placeholder="Name"><span>{t("x")} / —</span><b title={t("y")}>{n}%</b>')).toEqual(['Hello', 'placeholder="Name"']);
  });
});
