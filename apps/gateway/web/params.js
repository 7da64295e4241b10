// Parameter form: one input per declared parameter, and conversion of the inputs to typed JSON.
import { h, localize } from './dom.js';

function optionList(param) {
  return (param.options ?? []).map((o) => (o !== null && typeof o === 'object' ? { value: String(o.value), label: o.label } : { value: String(o), label: undefined }));
}

/**
 * Builds the fields for `parameters` inside a fieldset; returns { element, collect, showErrors }.
 * `collect()` returns the typed parameter object; `showErrors({name: message})` shows messages
 * beside inputs (unknown names go to the general error).
 */
export function parameterFields(parameters, language, idPrefix) {
  const fields = [];
  const container = h('div', { class: 'param-fields', testid: 'param-fields' });
  for (const param of parameters ?? []) {
    const field = buildField(param, language, `${idPrefix}-${param.name}`);
    fields.push(field);
    container.appendChild(field.element);
  }
  if (!fields.length) container.appendChild(h('p', { class: 'muted' }, 'This script takes no parameters.'));

  return {
    element: container,
    collect() {
      const values = {};
      for (const field of fields) {
        const value = field.read();
        if (value !== undefined) values[field.param.name] = value;
      }
      return values;
    },
    showErrors(messages = {}) {
      const unknown = { ...messages };
      for (const field of fields) {
        field.setError(messages[field.param.name]);
        delete unknown[field.param.name];
      }
      const first = fields.find((f) => messages[f.param.name]);
      first?.focus();
      return unknown;
    },
  };
}

function buildField(param, language, id) {
  const type = param.type ?? 'string';
  const label = localize(param.label, language) || param.name;
  const description = localize(param.description, language);
  const placeholder = localize(param.placeholder, language);
  const errorId = `${id}-error`;
  const helpId = `${id}-help`;
  const describedBy = [description ? helpId : null, errorId].filter(Boolean).join(' ');
  const error = h('p', { class: 'field-error', id: errorId, testid: `param-error-${param.name}`, hidden: true });
  const help = description ? h('p', { class: 'field-help', id: helpId }, description) : null;
  const requiredMark = param.required ? h('span', { class: 'required', title: 'required' }, h('span', { 'aria-hidden': 'true' }, ' *'), h('span', { class: 'sr-only' }, ' (required)')) : null;
  const hasDefault = param.default !== undefined && param.default !== null;
  const common = { id, name: param.name, testid: `param-${param.name}`, 'aria-describedby': describedBy, required: param.required ? true : undefined };

  let input;
  let focusTarget;
  let read;
  let element;
  const inputs = [];

  switch (type) {
    case 'boolean': {
      input = h('input', { ...common, type: 'checkbox', checked: hasDefault ? Boolean(param.default) : false, required: undefined });
      read = () => input.checked;
      element = h('div', { class: 'field field-check', dataset: { param: param.name, type } },
        h('div', { class: 'check-row' }, input, h('label', { for: id }, label, requiredMark)), help, error);
      break;
    }
    case 'multiselect': {
      const selected = new Set(Array.isArray(param.default) ? param.default.map(String) : []);
      const boxes = optionList(param).map((opt, i) => {
        const boxId = `${id}-${i}`;
        const box = h('input', { type: 'checkbox', id: boxId, name: param.name, value: opt.value, checked: selected.has(opt.value), testid: `param-${param.name}-${opt.value}` });
        inputs.push(box);
        return h('div', { class: 'check-row' }, box, h('label', { for: boxId }, localize(opt.label, language) || opt.value));
      });
      focusTarget = inputs[0];
      read = () => inputs.filter((b) => b.checked).map((b) => b.value);
      element = h('fieldset', { class: 'field field-group', testid: `param-${param.name}`, 'aria-describedby': describedBy, dataset: { param: param.name, type } },
        h('legend', {}, label, requiredMark), h('div', { class: 'check-list' }, boxes), help, error);
      break;
    }
    case 'select': {
      const options = optionList(param);
      const current = hasDefault ? String(param.default) : '';
      input = h('select', common,
        !param.required || !hasDefault ? h('option', { value: '' }, param.required ? 'Choose…' : '(none)') : null,
        options.map((opt) => h('option', { value: opt.value, selected: opt.value === current }, localize(opt.label, language) || opt.value)));
      read = () => (input.value === '' ? undefined : input.value);
      break;
    }
    case 'text': {
      input = h('textarea', { ...common, rows: 4, placeholder: placeholder || undefined });
      input.value = hasDefault ? String(param.default) : '';
      read = () => (input.value === '' ? undefined : input.value);
      break;
    }
    case 'integer':
    case 'number': {
      input = h('input', {
        ...common,
        type: 'number',
        inputmode: type === 'integer' ? 'numeric' : 'decimal',
        step: type === 'integer' ? '1' : 'any',
        min: param.min ?? undefined,
        max: param.max ?? undefined,
        placeholder: placeholder || undefined,
      });
      input.value = hasDefault ? String(param.default) : '';
      read = () => {
        const raw = input.value.trim();
        if (raw === '') return input.validity.badInput ? 'not a number' : undefined;
        const n = Number(raw);
        if (!Number.isFinite(n)) return raw;
        return n; // integers stay integers in JSON; a fraction for an integer is reported by the server
      };
      break;
    }
    case 'date': {
      input = h('input', { ...common, type: 'date' });
      input.value = hasDefault ? String(param.default) : '';
      read = () => (input.value === '' ? undefined : input.value);
      break;
    }
    case 'secret': {
      input = h('input', { ...common, type: 'password', autocomplete: 'off', placeholder: placeholder || undefined });
      read = () => (input.value === '' ? undefined : input.value);
      break;
    }
    default: {
      // string, path, file (a path inside the project's data directory)
      input = h('input', {
        ...common,
        type: 'text',
        spellcheck: type === 'string' ? undefined : 'false',
        pattern: param.pattern ?? undefined,
        placeholder: placeholder || (type === 'file' ? 'file in the project data directory' : type === 'path' ? 'path' : undefined),
      });
      input.value = hasDefault ? String(param.default) : '';
      read = () => (input.value === '' ? undefined : input.value);
    }
  }

  if (!element) {
    const range = (type === 'integer' || type === 'number') && (param.min !== undefined || param.max !== undefined)
      ? h('span', { class: 'field-range muted' }, param.min !== undefined && param.max !== undefined ? `${param.min}–${param.max}` : param.min !== undefined ? `≥ ${param.min}` : `≤ ${param.max}`)
      : null;
    element = h('div', { class: `field field-${type}`, dataset: { param: param.name, type } },
      h('label', { for: id }, label, requiredMark, h('span', { class: 'field-type' }, type), range), input, help, error);
  }
  focusTarget ??= input;

  return {
    param,
    element,
    read,
    focus: () => focusTarget?.focus(),
    setError(message) {
      error.textContent = message ?? '';
      error.hidden = !message;
      element.classList.toggle('has-error', Boolean(message));
      for (const el of input ? [input] : inputs) {
        if (message) el.setAttribute('aria-invalid', 'true');
        else el.removeAttribute('aria-invalid');
      }
    },
  };
}
