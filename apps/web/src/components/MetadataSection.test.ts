import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { afterEach, describe, expect, test, vi } from 'vitest';
import MetadataSection from './MetadataSection.svelte';

// Signed in before the API module reads the session.
vi.hoisted(() => sessionStorage.setItem('scriptorium.session', JSON.stringify({ accessToken: 'a', refreshToken: 'r', expiresAt: Date.now() + 3_600_000, user: null })));

const json = (body: unknown) => new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } });

describe('MetadataSection', () => {
  afterEach(() => vi.unstubAllGlobals());

  test('opening it reads the docs of the chosen language and the versions, once', async () => {
    const calls: string[] = [];
    vi.stubGlobal('fetch', async (url: string) => {
      calls.push(url);
      if (url.includes('/docs')) return json({ language: 'en', fallback: false, markdown: '# Hostile docs' });
      return json({ versions: [{ version: 1, action: 'edit', changedFields: ['description'] }], currentVersion: 1 });
    });
    const script = { id: 'g/s.py', groupId: 'g', file: 's.py', requiredLevel: 'operator' as const, descriptions: { en: 'Short' }, metadataVersion: 1 };
    render(MetadataSection, { script, onChanged: () => undefined });
    expect(calls).toEqual([]);
    const details = screen.getByTestId('meta-section') as HTMLDetailsElement;
    details.open = true;
    await fireEvent(details, new Event('toggle'));
    await waitFor(() => expect((screen.getByTestId('meta-long') as HTMLTextAreaElement).value).toBe('# Hostile docs'));
    expect((screen.getByTestId('meta-description') as HTMLInputElement).value).toBe('Short');
    await waitFor(() => expect(screen.getAllByTestId('meta-version').map((li) => li.dataset.version)).toEqual(['1', '0']));
    details.open = false;
    await fireEvent(details, new Event('toggle'));
    details.open = true;
    await fireEvent(details, new Event('toggle'));
    expect(calls.filter((c) => c.includes('/docs'))).toHaveLength(1);
  });
});
