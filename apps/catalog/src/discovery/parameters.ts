import type { Language } from '#contracts/levels.js';
import { localize, toLocalized, type Localized } from './localized.js';

export const PARAMETER_TYPES = [
  'string',
  'text',
  'integer',
  'number',
  'boolean',
  'select',
  'multiselect',
  'date',
  'path',
  'secret',
  'file',
] as const;
export type ParameterType = (typeof PARAMETER_TYPES)[number];

/**
 * Names the runtime passes itself (`--data-dir`, `--user-level`, …); a parameter
 * with one of these names would collide with them on the command line.
 */
export const RESERVED_PARAMETER_NAMES = ['data-dir', 'data_dir', 'user-level', 'user_level', 'port', 'project-id', 'project_id', 'project-name', 'project_name', 'theme', 'language'];

/** A parameter name usable as `--<name>` on a command line and as a JSON property. */
const NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

export interface SelectOption {
  value: string;
  label?: Localized;
}

/** One declared parameter, checked and normalized. */
export interface ParameterSpec {
  name: string;
  type: ParameterType;
  required: boolean;
  default?: unknown;
  label?: Localized;
  description?: Localized;
  options?: SelectOption[];
  min?: number;
  max?: number;
  pattern?: string;
  placeholder?: Localized;
}

export interface ParametersResult {
  parameters: ParameterSpec[];
  /** Problems found, each naming the parameter (by position and name). */
  problems: string[];
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

function parseOptions(raw: unknown, where: string, problems: string[]): SelectOption[] | undefined {
  if (!Array.isArray(raw) || raw.length === 0) {
    problems.push(`${where}: "options" must be a non-empty array`);
    return undefined;
  }
  const options: SelectOption[] = [];
  for (const [i, option] of raw.entries()) {
    if (typeof option === 'string' || typeof option === 'number' || typeof option === 'boolean') {
      options.push({ value: String(option) });
    } else if (isPlainObject(option) && ['string', 'number', 'boolean'].includes(typeof option.value)) {
      options.push({ value: String(option.value), label: toLocalized(option.label) });
    } else {
      problems.push(`${where}: option ${i + 1} must be a string or {"value": ..., "label": ...}`);
    }
  }
  const values = options.map((o) => o.value);
  const duplicate = values.find((v, i) => values.indexOf(v) !== i);
  if (duplicate !== undefined) problems.push(`${where}: option "${duplicate}" is listed twice`);
  return options;
}

function isIsoDate(value: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) return false;
  const date = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().startsWith(value);
}

/** Why `value` is not acceptable for `spec`, or undefined when it is. Used for defaults. */
export function checkValue(spec: ParameterSpec, value: unknown): string | undefined {
  switch (spec.type) {
    case 'integer':
    case 'number': {
      if (typeof value !== 'number' || !Number.isFinite(value)) return `must be a number`;
      if (spec.type === 'integer' && !Number.isInteger(value)) return 'must be an integer';
      if (spec.min !== undefined && value < spec.min) return `must be at least ${spec.min}`;
      if (spec.max !== undefined && value > spec.max) return `must be at most ${spec.max}`;
      return undefined;
    }
    case 'boolean':
      return typeof value === 'boolean' ? undefined : 'must be true or false';
    case 'select':
      if (typeof value !== 'string') return 'must be one of the options';
      return spec.options?.some((o) => o.value === value) ? undefined : `must be one of ${spec.options?.map((o) => o.value).join(', ')}`;
    case 'multiselect':
      if (!Array.isArray(value)) return 'must be an array of options';
      for (const item of value) {
        if (!spec.options?.some((o) => o.value === item)) return `"${String(item)}" is not one of ${spec.options?.map((o) => o.value).join(', ')}`;
      }
      return undefined;
    case 'date':
      return typeof value === 'string' && isIsoDate(value) ? undefined : 'must be a date as YYYY-MM-DD';
    default:
      if (typeof value !== 'string') return 'must be a string';
      if (spec.pattern !== undefined && !new RegExp(spec.pattern, 'u').test(value)) return `must match ${spec.pattern}`;
      return undefined;
  }
}

function readNumber(raw: Record<string, unknown>, keys: string[], where: string, problems: string[]): number | undefined {
  for (const key of keys) {
    if (raw[key] === undefined) continue;
    if (typeof raw[key] !== 'number' || !Number.isFinite(raw[key])) {
      problems.push(`${where}: "${key}" must be a number`);
      return undefined;
    }
    return raw[key] as number;
  }
  return undefined;
}

/**
 * Checks a declared `@parameters` array and normalizes it. Problems are
 * collected, not thrown: the caller marks the script invalid and names them.
 */
export function parseParameters(raw: unknown): ParametersResult {
  const problems: string[] = [];
  if (!Array.isArray(raw)) return { parameters: [], problems: ['parameters must be a JSON array of objects'] };
  const parameters: ParameterSpec[] = [];
  const seen = new Set<string>();
  for (const [index, item] of raw.entries()) {
    const position = `parameter ${index + 1}`;
    if (!isPlainObject(item)) {
      problems.push(`${position} must be an object`);
      continue;
    }
    const name = item.name;
    if (typeof name !== 'string' || !NAME.test(name)) {
      problems.push(`${position}: "name" must be letters, digits, "_" or "-", starting with a letter (got ${JSON.stringify(name)})`);
      continue;
    }
    const where = `${position} ("${name}")`;
    if (seen.has(name)) problems.push(`${where}: the name is used twice`);
    if (RESERVED_PARAMETER_NAMES.includes(name)) problems.push(`${where}: the name is reserved for a standard argument`);
    seen.add(name);
    const type = item.type ?? 'string';
    if (typeof type !== 'string' || !(PARAMETER_TYPES as readonly string[]).includes(type)) {
      problems.push(`${where}: type ${JSON.stringify(type)} is unknown (use ${PARAMETER_TYPES.join(', ')})`);
      continue;
    }
    const spec: ParameterSpec = { name, type: type as ParameterType, required: false };
    const before = problems.length;
    if (item.required !== undefined) {
      if (typeof item.required !== 'boolean') problems.push(`${where}: "required" must be true or false`);
      else spec.required = item.required;
    }
    for (const key of ['label', 'description', 'placeholder'] as const) {
      const alias = key === 'label' ? (item.label ?? item.display_name ?? item.title) : item[key];
      if (alias === undefined) continue;
      const text = toLocalized(alias);
      if (!text) problems.push(`${where}: "${key}" must be a string or an object keyed by language`);
      else spec[key] = text;
    }
    if (type === 'select' || type === 'multiselect') spec.options = parseOptions(item.options, where, problems);
    if (type === 'integer' || type === 'number') {
      spec.min = readNumber(item, ['min', 'minimum'], where, problems);
      spec.max = readNumber(item, ['max', 'maximum'], where, problems);
      if (spec.min !== undefined && spec.max !== undefined && spec.min > spec.max) problems.push(`${where}: min ${spec.min} is above max ${spec.max}`);
      if (type === 'integer' && [spec.min, spec.max].some((v) => v !== undefined && !Number.isInteger(v))) {
        problems.push(`${where}: min and max of an integer must be integers`);
      }
    }
    if (item.pattern !== undefined) {
      if (!['string', 'text', 'secret', 'path'].includes(type)) problems.push(`${where}: "pattern" applies only to string, text, secret and path`);
      else if (typeof item.pattern !== 'string') problems.push(`${where}: "pattern" must be a string`);
      else {
        try {
          new RegExp(item.pattern, 'u');
          spec.pattern = item.pattern;
        } catch (error) {
          problems.push(`${where}: "pattern" is not a valid regular expression (${(error as Error).message})`);
        }
      }
    }
    if (item.default !== undefined && item.default !== null && problems.length === before) {
      if (type === 'secret') problems.push(`${where}: a secret cannot have a default`);
      else {
        const why = checkValue(spec, item.default);
        if (why) problems.push(`${where}: default ${JSON.stringify(item.default)} ${why}`);
        else spec.default = item.default;
      }
    }
    parameters.push(spec);
  }
  return { parameters, problems };
}

/** Annotation telling forms and the executor how to treat a property (secret, path, file, …). */
export const TYPE_ANNOTATION = 'x-scriptorium-type';

/**
 * The JSON Schema (draft 2020-12) of the parameters object, with titles and
 * descriptions in `language` (falling back to English).
 */
export function buildParametersSchema(parameters: ParameterSpec[], language: Language = 'en'): Record<string, unknown> {
  const properties: Record<string, Record<string, unknown>> = {};
  for (const p of parameters) {
    const property: Record<string, unknown> = { title: localize(p.label, language) || p.name };
    const description = localize(p.description, language);
    if (description) property.description = description;
    const stringLike = () => {
      property.type = 'string';
      if (p.required) property.minLength = 1;
      if (p.pattern !== undefined) property.pattern = p.pattern;
    };
    switch (p.type) {
      case 'integer':
      case 'number':
        property.type = p.type;
        if (p.min !== undefined) property.minimum = p.min;
        if (p.max !== undefined) property.maximum = p.max;
        break;
      case 'boolean':
        property.type = 'boolean';
        break;
      case 'select':
        property.type = 'string';
        property.enum = p.options?.map((o) => o.value) ?? [];
        break;
      case 'multiselect':
        property.type = 'array';
        property.items = { type: 'string', enum: p.options?.map((o) => o.value) ?? [] };
        property.uniqueItems = true;
        if (p.required) property.minItems = 1;
        break;
      case 'date':
        property.type = 'string';
        property.format = 'date';
        break;
      case 'secret':
        stringLike();
        property.writeOnly = true;
        break;
      case 'text':
        stringLike();
        property.contentMediaType = 'text/plain';
        break;
      default:
        stringLike();
    }
    if (p.options?.some((o) => o.label)) {
      property['x-scriptorium-option-labels'] = Object.fromEntries(p.options.map((o) => [o.value, localize(o.label, language) || o.value]));
    }
    const placeholder = localize(p.placeholder, language);
    if (placeholder) property['x-scriptorium-placeholder'] = placeholder;
    if (p.default !== undefined) property.default = p.default;
    property[TYPE_ANNOTATION] = p.type;
    properties[p.name] = property;
  }
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    type: 'object',
    properties,
    required: parameters.filter((p) => p.required).map((p) => p.name),
    additionalProperties: false,
  };
}
