import type { FieldErrors } from '#common/errors.js';

/** Tag limits of the seed's "tagging" settings. */
export const MAX_TAGS_PER_SCRIPT = 20;
export const MAX_TAG_LENGTH = 30;
/** "alphanumeric_underscore_dash". */
export const TAG_PATTERN = /^[A-Za-z0-9_-]+$/;

export type TagMatch = 'all' | 'any';

export interface TagCheck {
  tags: string[];
  errors: FieldErrors;
}

/**
 * Cleans a tag list (trimmed, lower-cased, duplicates dropped) and checks it
 * against the limits. Errors are keyed by `field` and `field[i]`.
 */
export function checkTags(raw: unknown, field = 'tags'): TagCheck {
  const errors: FieldErrors = {};
  if (!Array.isArray(raw)) return { tags: [], errors: { [field]: 'must be a list of tags' } };
  const tags: string[] = [];
  raw.forEach((value, i) => {
    if (typeof value !== 'string') {
      errors[`${field}[${i}]`] = 'must be a string';
      return;
    }
    const tag = value.trim().toLowerCase();
    if (!tag) errors[`${field}[${i}]`] = 'must not be empty';
    else if (tag.length > MAX_TAG_LENGTH) errors[`${field}[${i}]`] = `"${tag.slice(0, 40)}" is ${tag.length} characters long; at most ${MAX_TAG_LENGTH}`;
    else if (!TAG_PATTERN.test(tag)) errors[`${field}[${i}]`] = `"${tag}" may hold only letters, digits, "_" and "-"`;
    else if (!tags.includes(tag)) tags.push(tag);
  });
  if (tags.length > MAX_TAGS_PER_SCRIPT) errors[field] = `${tags.length} tags; at most ${MAX_TAGS_PER_SCRIPT} per script`;
  return { tags, errors };
}

/** Query tags: the same characters, no count limit beyond 20; normalized like stored tags. */
export function checkQueryTags(raw: string[]): TagCheck {
  return checkTags(raw.filter((t) => t.trim() !== ''), 'tags');
}

export function parseTagMatch(value: string | undefined): TagMatch | undefined {
  const v = (value ?? '').trim().toLowerCase();
  if (!v || v === 'all') return 'all';
  if (v === 'any') return 'any';
  return undefined;
}

/** True when `have` (lower-case) satisfies the wanted tags under `match`. */
export function tagsMatch(have: Set<string>, wanted: string[], match: TagMatch): boolean {
  if (!wanted.length) return true;
  return match === 'all' ? wanted.every((t) => have.has(t)) : wanted.some((t) => have.has(t));
}
