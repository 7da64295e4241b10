import { LANGUAGES, LEVELS, isLanguage, isLevel, levelAtLeast, type Level } from '#contracts/levels.js';
import type { FieldErrors } from '#common/errors.js';
import type { ScriptMetadataEdit } from '#contracts/generated/scriptorium/catalog/v1/catalog.js';
import type { Localized } from '../discovery/localized.js';
import type { ScriptDefinition } from '../discovery/loader.js';
import { parseParameters } from '../discovery/parameters.js';
import { checkTags } from './tags.js';

/**
 * Metadata edited in the UI. Each present field overrides what discovery read
 * from the header (and script_metadata.json) until a re-parse drops them all.
 * Localized fields override per language: an edited Spanish description leaves
 * the English one from the header in place.
 */
export interface MetadataOverrides {
  description?: Localized;
  longDescription?: Localized;
  requiredLevel?: Level;
  category?: string;
  tags?: string[];
  /** The declared parameters (a JSON array as in @parameters), already checked. */
  parameters?: unknown[];
  timeoutSeconds?: number;
}

export const EDITABLE_FIELDS = ['description', 'long_description', 'required_level', 'category', 'tags', 'parameters', 'timeout_seconds'] as const;
export type EditableField = (typeof EDITABLE_FIELDS)[number];

const FIELD_KEYS: Record<EditableField, keyof MetadataOverrides> = {
  description: 'description',
  long_description: 'longDescription',
  required_level: 'requiredLevel',
  category: 'category',
  tags: 'tags',
  parameters: 'parameters',
  timeout_seconds: 'timeoutSeconds',
};

export const MAX_DESCRIPTION_LENGTH = 500;
export const MAX_LONG_DESCRIPTION_LENGTH = 200_000;
export const MAX_CATEGORY_LENGTH = 60;
export const MAX_TIMEOUT_SECONDS = 7 * 24 * 3600;
export const MAX_COMMENT_LENGTH = 500;

/** Which override fields are set, by their API names. */
export function editedFields(overrides: MetadataOverrides): EditableField[] {
  return EDITABLE_FIELDS.filter((f) => overrides[FIELD_KEYS[f]] !== undefined);
}

const present = <T>(v: T | null | undefined): v is T => v !== undefined && v !== null;

function checkLocalized(values: Record<string, string> | undefined, field: string, maxLength: number, errors: FieldErrors): Localized {
  const result: Localized = {};
  for (const [language, text] of Object.entries(values ?? {})) {
    const key = `${field}.${language}`;
    if (!isLanguage(language)) errors[key] = `language "${language}" is not supported (use ${LANGUAGES.join(', ')})`;
    else if (typeof text !== 'string') errors[key] = 'must be text';
    else if (text.length > maxLength) errors[key] = `is ${text.length} characters long; at most ${maxLength}`;
    else if (field === 'description' && /[\r\n]/.test(text)) errors[key] = 'must be a single line';
    else result[language] = field === 'description' ? text.trim() : text;
  }
  return result;
}

export interface EditInput {
  edit: ScriptMetadataEdit | undefined | null;
  resetFields: string[];
}

export interface CheckedEdit {
  /** The overrides after the edit. */
  overrides: MetadataOverrides;
  /** Fields this edit touched. */
  changed: EditableField[];
  errors: FieldErrors;
}

/**
 * Validates an edit and merges it into the current overrides. Every problem is
 * reported against its field (e.g. `tags[2]`, `description.es`,
 * `parameters: parameter 1 ("x"): ...`), so the UI can show it in place.
 * `groupLevel` is the script's group level: a script cannot be less restricted
 * than its group.
 */
export function applyEdit(current: MetadataOverrides, input: EditInput, groupLevel: Level): CheckedEdit {
  const errors: FieldErrors = {};
  const next: MetadataOverrides = structuredClone(current);
  const changed = new Set<EditableField>();
  for (const field of input.resetFields) {
    if (!(EDITABLE_FIELDS as readonly string[]).includes(field)) {
      errors.reset_fields = `"${field}" is not an editable field (use ${EDITABLE_FIELDS.join(', ')})`;
      continue;
    }
    delete next[FIELD_KEYS[field as EditableField]];
    changed.add(field as EditableField);
  }
  const edit = input.edit;
  if (edit) {
    const merge = (field: 'description' | 'long_description', values: Record<string, string>, max: number) => {
      const key = FIELD_KEYS[field] as 'description' | 'longDescription';
      const checked = checkLocalized(values, field, max, errors);
      const merged: Localized = { ...(next[key] ?? {}) };
      for (const [language, text] of Object.entries(checked) as [keyof Localized, string][]) {
        // An empty text drops that language's override (back to the header's).
        if (text === '') delete merged[language];
        else merged[language] = text;
      }
      if (Object.keys(merged).length) next[key] = merged;
      else delete next[key];
      changed.add(field);
    };
    if (present(edit.description)) merge('description', edit.description.values ?? {}, MAX_DESCRIPTION_LENGTH);
    if (present(edit.longDescription)) merge('long_description', edit.longDescription.values ?? {}, MAX_LONG_DESCRIPTION_LENGTH);
    if (present(edit.requiredLevel)) {
      const level = edit.requiredLevel.trim().toLowerCase();
      if (!isLevel(level)) errors.required_level = `"${edit.requiredLevel}" is not a level (use ${LEVELS.join(', ')})`;
      else if (!levelAtLeast(level, groupLevel)) {
        errors.required_level = `the group requires ${groupLevel}; a script cannot require less than its group`;
      } else next.requiredLevel = level;
      changed.add('required_level');
    }
    if (present(edit.category)) {
      const category = edit.category.trim();
      if (category.length > MAX_CATEGORY_LENGTH) errors.category = `is ${category.length} characters long; at most ${MAX_CATEGORY_LENGTH}`;
      else if (/[\r\n]/.test(category)) errors.category = 'must be a single line';
      else next.category = category;
      changed.add('category');
    }
    if (present(edit.tags)) {
      const { tags, errors: tagErrors } = checkTags(edit.tags.tags ?? []);
      Object.assign(errors, tagErrors);
      if (!Object.keys(tagErrors).length) next.tags = tags;
      changed.add('tags');
    }
    if (present(edit.parametersJson)) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(edit.parametersJson);
      } catch (error) {
        errors.parameters = `not valid JSON: ${(error as Error).message}`;
      }
      if (parsed !== undefined) {
        if (!Array.isArray(parsed)) errors.parameters = 'must be a JSON array of parameter objects';
        else {
          const { problems } = parseParameters(parsed);
          if (problems.length) errors.parameters = problems.join('; ');
          else next.parameters = parsed;
        }
      }
      changed.add('parameters');
    }
    if (present(edit.timeoutSeconds)) {
      const t = edit.timeoutSeconds;
      if (!Number.isInteger(t) || t < 0 || t > MAX_TIMEOUT_SECONDS) {
        errors.timeout_seconds = `must be a whole number of seconds from 0 (no limit) to ${MAX_TIMEOUT_SECONDS}`;
      } else next.timeoutSeconds = t;
      changed.add('timeout_seconds');
    }
  }
  if (!changed.size && !Object.keys(errors).length) errors.edit = 'nothing to change: set at least one field or name fields in reset_fields';
  return { overrides: next, changed: [...changed], errors };
}

/** Discovery problems that an override of the named field makes moot. */
const SUPERSEDED: Record<string, RegExp> = {
  parameters: /@parameters|"parameters"/,
  requiredLevel: /@required_level|"required_level"/,
  timeoutSeconds: /@execution_timeout|"execution_timeout"/,
};

/** The definition as users see it: discovery's, with the overrides on top. Pure. */
export function applyOverrides(base: ScriptDefinition, overrides: MetadataOverrides | undefined, groupLevel: Level): ScriptDefinition {
  if (!overrides || !Object.keys(overrides).length) return base;
  const result: ScriptDefinition = { ...base };
  let problems = base.error ? base.error.split('; ') : [];
  if (overrides.description) result.description = { ...base.description, ...overrides.description };
  if (overrides.longDescription) result.docs = { ...base.docs, ...overrides.longDescription };
  if (overrides.requiredLevel) {
    result.requiredLevel = levelAtLeast(overrides.requiredLevel, groupLevel) ? overrides.requiredLevel : groupLevel;
  }
  if (overrides.category !== undefined) result.category = overrides.category;
  if (overrides.tags) result.tags = [...overrides.tags];
  if (overrides.parameters) {
    result.declaredParameters = overrides.parameters;
    result.parameters = parseParameters(overrides.parameters).parameters;
  }
  if (overrides.timeoutSeconds !== undefined) result.timeoutSeconds = overrides.timeoutSeconds;
  for (const [key, pattern] of Object.entries(SUPERSEDED)) {
    if (overrides[key as keyof MetadataOverrides] !== undefined) problems = problems.filter((p) => !pattern.test(p));
  }
  result.error = problems.join('; ');
  result.valid = problems.length === 0;
  return result;
}
