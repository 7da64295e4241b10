import { fireEvent, render, screen } from '@testing-library/svelte';
import { afterEach, describe, expect, test } from 'vitest';
import { setLanguage } from '../lib/i18n.svelte.js';
import ParamField from './ParamField.svelte';

describe('ParamField', () => {
  afterEach(() => setLanguage('en'));

  test('an integer field carries its limits, its error and the ids that tie them together', () => {
    render(ParamField, { param: { name: 'times', type: 'integer', min: 1, max: 10, required: true }, value: '1', id: 'p-times', error: 'must be at most 10' });
    const input = screen.getByTestId('param-times') as HTMLInputElement;
    expect(input.type).toBe('number');
    expect(input.getAttribute('max')).toBe('10');
    expect(input.required).toBe(true);
    expect(input.getAttribute('aria-invalid')).toBe('true');
    const error = screen.getByTestId('param-error-times');
    expect(error.hidden).toBe(false);
    expect(input.getAttribute('aria-describedby')).toContain(error.id);
  });

  test('labels, options and the "(none)" choice in the user language', () => {
    setLanguage('es');
    render(ParamField, {
      param: { name: 'mode', type: 'select', label: { en: 'Mode', es: 'Modo' }, options: [{ value: 'fast', label: { en: 'Fast', es: 'Rápido' } }] },
      value: '',
      id: 'p-mode',
    });
    expect(screen.getByText('Modo')).toBeTruthy();
    const select = screen.getByTestId('param-mode') as HTMLSelectElement;
    expect([...select.options].map((o) => o.textContent)).toEqual(['(ninguno)', 'Rápido']);
  });

  test('a path field offers the project files', async () => {
    render(ParamField, { param: { name: 'input', type: 'path' }, value: '', id: 'p-input', pathOptions: ['data/a.csv', 'b.json'] });
    const list = screen.getByTestId('param-input-files');
    expect([...list.querySelectorAll('option')].map((o) => o.value)).toEqual(['data/a.csv', 'b.json']);
    await fireEvent.input(screen.getByTestId('param-input'), { target: { value: 'b.json' } });
    expect((screen.getByTestId('param-input') as HTMLInputElement).value).toBe('b.json');
  });
});
