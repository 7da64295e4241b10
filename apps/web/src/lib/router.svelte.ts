// Hash routes (#/runs/<id>, #/groups/<g>/<file>, …): links keep working from any path the gateway serves.
export type Route =
  | { name: 'groups'; params: URLSearchParams }
  | { name: 'group'; groupId: string }
  | { name: 'script'; groupId: string; file: string; params: URLSearchParams }
  | { name: 'run'; id: string }
  | { name: 'history'; params: URLSearchParams }
  | { name: 'sessions' }
  | { name: 'settings' }
  | { name: 'users' }
  | { name: 'audit'; params: URLSearchParams }
  | { name: 'overview' }
  | { name: 'code' }
  | { name: 'codeSession'; id: string }
  | { name: 'files'; id: string };

export function parseHash(hash: string): Route {
  const [path, search = ''] = hash.replace(/^#\/?/, '').split('?');
  const params = new URLSearchParams(search);
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  if (parts[0] === 'runs' && parts[1]) return { name: 'run', id: parts[1] };
  if (parts[0] === 'history') return { name: 'history', params };
  if (parts[0] === 'sessions') return { name: 'sessions' };
  if (parts[0] === 'settings') return { name: 'settings' };
  if (parts[0] === 'admin' && parts[1] === 'users') return { name: 'users' };
  if (parts[0] === 'admin' && parts[1] === 'audit') return { name: 'audit', params };
  if (parts[0] === 'admin' && parts[1] === 'overview') return { name: 'overview' };
  if (parts[0] === 'code' && parts[1]) return { name: 'codeSession', id: parts[1] };
  if (parts[0] === 'code') return { name: 'code' };
  if (parts[0] === 'projects' && parts[1]) return { name: 'files', id: parts[1] };
  if (parts[0] === 'groups' && parts[1] && parts.length > 2) return { name: 'script', groupId: parts[1], file: parts.slice(2).join('/'), params };
  if (parts[0] === 'groups' && parts[1]) return { name: 'group', groupId: parts[1] };
  return { name: 'groups', params };
}

export const router = $state({ route: parseHash(typeof location === 'undefined' ? '' : location.hash), hash: typeof location === 'undefined' ? '' : location.hash });

if (typeof window !== 'undefined')
  window.addEventListener('hashchange', () => {
    router.hash = location.hash;
    router.route = parseHash(location.hash);
  });

export const href = {
  group: (groupId: string) => `#/groups/${encodeURIComponent(groupId)}`,
  script: (groupId: string, file: string) => `#/groups/${encodeURIComponent(groupId)}/${encodeURIComponent(file)}`,
  run: (id: string) => `#/runs/${encodeURIComponent(id)}`,
  project: (id: string) => `#/projects/${encodeURIComponent(id)}`,
};

/** Replaces the query of the current hash route without adding a history entry (filters, paging). */
export function replaceQuery(params: URLSearchParams) {
  const [path] = location.hash.split('?');
  const text = params.toString();
  history.replaceState(null, '', `${location.pathname}${location.search}${path || '#/'}${text ? `?${text}` : ''}`);
}
