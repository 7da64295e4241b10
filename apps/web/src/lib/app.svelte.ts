// What every page shares: the signed-in user, the error banner and the screen-reader announcer.
import { currentSession, onSessionChange, type SessionState } from './api.js';
import type { Level } from './schemas.js';
import { setLanguage } from './i18n.svelte.js';

export const app = $state<{ session: SessionState | null; error: string; announcement: string }>({ session: currentSession(), error: '', announcement: '' });

const LEVELS: Level[] = ['viewer', 'operator', 'developer', 'admin'];
export const levelAtLeast = (level: Level | undefined, wanted: Level) => LEVELS.indexOf(level ?? 'viewer') >= LEVELS.indexOf(wanted);
export { LEVELS };

/** Theme and language of the signed-in user, applied to the whole page at once. */
export function applyPreferences(s: SessionState | null) {
  const user = s?.user;
  const root = document.documentElement;
  if (user?.theme === 'dark' || user?.theme === 'light') root.dataset.theme = user.theme;
  else delete root.dataset.theme; // follow the system until we know the user's choice
  if (user?.language) setLanguage(user.language);
  else setLanguage(root.lang);
}

onSessionChange((s) => {
  app.session = s;
  applyPreferences(s);
});

export function showError(error: unknown) {
  app.error = error ? (error instanceof Error ? error.message : String(error)) : '';
}

export function announce(message: string) {
  app.announcement = '';
  setTimeout(() => (app.announcement = message), 50);
}
