import { afterEach, describe, expect, test, vi } from 'vitest';
import { saveSource } from './code-sessions.js';

vi.hoisted(() => sessionStorage.setItem('scriptorium.session', JSON.stringify({ accessToken: 'a', refreshToken: 'r', expiresAt: Date.now() + 3_600_000, user: null })));

const answer = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

describe('code session autosave', () => {
  afterEach(() => vi.unstubAllGlobals());

  test('a save over the current version is saved; one over an older version comes back as the conflict to choose from', async () => {
    const sent: unknown[] = [];
    vi.stubGlobal('fetch', async (_url: string, init: RequestInit) => {
      const body = JSON.parse(String(init.body)) as { baseVersion: number; source: string };
      sent.push(body);
      if (body.baseVersion === 3) return answer(200, { id: 'c', version: 4, source: body.source });
      return answer(409, { statusCode: 409, message: 'saved since', currentVersion: 3, current: { id: 'c', version: 3, source: 'theirs' } });
    });
    expect(await saveSource('c', 3, 'mine')).toEqual({ saved: { id: 'c', version: 4, source: 'mine' } });
    expect(await saveSource('c', 2, 'mine')).toEqual({ conflict: { id: 'c', version: 3, source: 'theirs' } });
    expect(sent).toEqual([{ baseVersion: 3, source: 'mine' }, { baseVersion: 2, source: 'mine' }]);
  });

  test('other errors are errors', async () => {
    vi.stubGlobal('fetch', async () => answer(422, { message: 'source must be a string' }));
    await expect(saveSource('c', 1, 'x')).rejects.toThrow('source must be a string');
  });
});
