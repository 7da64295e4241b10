// A script's declared parameters as form values, and those values as the typed JSON a run takes.
import type { Parameter } from './schemas.js';

export type FieldValue = string | boolean | string[];

export const optionList = (param: Parameter) =>
  (param.options ?? []).map((o) => (o !== null && typeof o === 'object' ? { value: String(o.value), label: o.label } : { value: String(o), label: undefined }));

/** The form value of a parameter: a shared link's `p.<name>` first, then its default. */
export function initialValue(param: Parameter, prefill?: string | null): FieldValue {
  const type = param.type ?? 'string';
  const given = prefill ?? undefined;
  const fallback = param.default;
  if (type === 'boolean') return given !== undefined ? given === 'true' : Boolean(fallback);
  if (type === 'multiselect') return given !== undefined ? given.split(',').filter(Boolean) : Array.isArray(fallback) ? fallback.map(String) : [];
  if (given !== undefined) return given;
  return fallback === undefined || fallback === null ? '' : String(fallback);
}

/** Typed values for the run: numbers as numbers, empty fields left out (the server applies defaults and rules). */
export function collect(parameters: Parameter[], values: Record<string, FieldValue>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const param of parameters) {
    const value = values[param.name];
    const type = param.type ?? 'string';
    if (type === 'boolean') out[param.name] = Boolean(value);
    else if (type === 'multiselect') out[param.name] = Array.isArray(value) ? value : [];
    else if (typeof value === 'string' && value.trim() !== '') {
      if (type === 'integer' || type === 'number') {
        const n = Number(value.trim());
        out[param.name] = Number.isFinite(n) ? n : value; // the server names what is wrong with it
      } else out[param.name] = value;
    }
  }
  return out;
}

/** A link to the script page that fills the form with `values` again. */
export function shareQuery(parameters: Parameter[], values: Record<string, FieldValue>): URLSearchParams {
  const q = new URLSearchParams();
  for (const param of parameters) {
    if (param.type === 'secret') continue; // never in a link
    const v = values[param.name];
    if (Array.isArray(v)) q.set(`p.${param.name}`, v.join(','));
    else if (v !== '' && v !== undefined) q.set(`p.${param.name}`, String(v));
  }
  return q;
}
