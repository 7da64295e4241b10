import { LANGUAGES, isLanguage, type Language } from '#contracts/levels.js';

/** A text in some of the supported languages; English is the fallback. */
export type Localized = Partial<Record<Language, string>>;

/** The text in `language`, else English, else any language present, else ''. */
export function localize(text: Localized | undefined, language: Language): string {
  if (!text) return '';
  return text[language] ?? text.en ?? LANGUAGES.map((l) => text[l]).find((v) => v !== undefined) ?? '';
}

/**
 * Reads a value that is either a plain string (English) or an object keyed by
 * language ({"en": "...", "es": "..."}). Returns undefined for anything else.
 */
export function toLocalized(value: unknown): Localized | undefined {
  if (typeof value === 'string') return { en: value };
  if (!value || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const result: Localized = {};
  for (const [key, text] of Object.entries(value as Record<string, unknown>)) {
    if (isLanguage(key) && typeof text === 'string') result[key] = text;
  }
  return Object.keys(result).length ? result : undefined;
}

/** The language to answer in: the requested one, else the caller's preference, else English. */
export function pickLanguage(...candidates: (string | undefined)[]): Language {
  return (candidates.find((c) => isLanguage(c)) as Language | undefined) ?? 'en';
}
