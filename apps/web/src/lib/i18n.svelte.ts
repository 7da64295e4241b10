// UI strings per language (src/locales/*.json, same keys in each: i18n.test.ts checks it).
// t('key', {name}) reads the current language reactively, so every page re-renders on a switch.
import en from '../locales/en.json';
import es from '../locales/es.json';
import fr from '../locales/fr.json';
import it from '../locales/it.json';
import type { LocalText } from './schemas.js';

export type MessageKey = keyof typeof en;
export const DICTIONARIES: Record<string, Record<string, string>> = { en, es, it, fr };
export const LANGUAGES: Record<string, string> = { en: 'English', es: 'Español', it: 'Italiano', fr: 'Français' };

const state = $state({ language: 'en' });

export function setLanguage(language: string | undefined) {
  state.language = language && Object.hasOwn(DICTIONARIES, language) ? language : 'en';
  if (typeof document !== 'undefined') document.documentElement.lang = state.language;
}

export const getLanguage = () => state.language;

/** The string for `key` in the current language (English when missing), with {name} placeholders filled. */
export function t(key: MessageKey, vars?: Record<string, string | number>): string {
  const text = DICTIONARIES[state.language][key] ?? en[key] ?? key;
  if (!vars) return text;
  return text.replace(/\{(\w+)\}/g, (whole, name: string) => (Object.hasOwn(vars, name) ? String(vars[name]) : whole));
}

/** A declared text (string or {en, es, …}) in the user's language, falling back to English. */
export function localize(text: LocalText, language = state.language): string {
  if (text === null || text === undefined) return '';
  if (typeof text === 'string') return text;
  return text[language] ?? text.en ?? Object.values(text).find((v) => typeof v === 'string') ?? '';
}

/** `${base}.one` or `${base}.other` by the language's plural rules, with {n} filled in (as a localized number). */
export function plural(base: 'groups.scripts' | 'search.results' | 'log.matches', n: number): string {
  const form = new Intl.PluralRules(state.language).select(n) === 'one' ? 'one' : 'other';
  return t(`${base}.${form}` as MessageKey, { n: new Intl.NumberFormat(state.language).format(n) });
}
