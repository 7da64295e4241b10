import { relative, sep } from 'node:path';
import { watch } from 'chokidar';

/** Parts of the tree whose changes never matter to the catalog. */
const IGNORED_PARTS = new Set(['.git', 'node_modules', '__pycache__', '.venv', 'venv', '.mypy_cache', '.pytest_cache']);

export function isIgnoredPath(root: string, path: string): boolean {
  const rel = relative(root, path);
  if (!rel || rel.startsWith('..')) return false;
  return rel.split(sep).some((part) => IGNORED_PARTS.has(part) || part.endsWith('.swp') || part.endsWith('~') || part.endsWith('.pyc'));
}

export interface TreeWatcher {
  ready: Promise<void>;
  close(): Promise<void>;
}

/**
 * Watches the script groups tree and calls `onChange` once per burst of changes
 * (after `debounceMs` of quiet), with the paths that changed.
 */
export function watchTree(root: string, onChange: (paths: string[]) => void, debounceMs = 150): TreeWatcher {
  let timer: NodeJS.Timeout | undefined;
  let changed = new Set<string>();
  const watcher = watch(root, {
    ignoreInitial: true,
    depth: 4,
    ignored: (path) => isIgnoredPath(root, path),
  });
  watcher.on('all', (_event, path) => {
    changed.add(path);
    clearTimeout(timer);
    timer = setTimeout(() => {
      const paths = [...changed];
      changed = new Set();
      onChange(paths);
    }, debounceMs);
  });
  const ready = new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
  return {
    ready,
    async close() {
      clearTimeout(timer);
      await watcher.close();
    },
  };
}
