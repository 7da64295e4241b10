import { constants } from 'node:fs';
import { lstat, realpath } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { invalidArgument, notFound } from '#common/errors.js';

const MAX_PATH_LENGTH = 1024;
const MAX_SEGMENT_LENGTH = 255;

/**
 * Checks a client-given relative path and splits it into segments. Refuses absolute
 * paths, "." and ".." segments, backslashes, NUL and other control characters: the
 * path names something inside a project's data directory or nothing.
 */
export function pathSegments(path: string): string[] {
  if (path.length > MAX_PATH_LENGTH) throw invalidArgument(`path must be at most ${MAX_PATH_LENGTH} characters`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(path)) throw invalidArgument('path must not contain NUL or other control characters');
  if (path.includes('\\')) throw invalidArgument('path must use "/" as separator, not "\\"');
  if (path.startsWith('/') || isAbsolute(path)) throw invalidArgument('path must be relative to the project data directory, not absolute');
  const segments = path.split('/').filter((s) => s !== '');
  for (const segment of segments) {
    if (segment === '.' || segment === '..') throw invalidArgument('path must not contain "." or ".." segments');
    if (segment.length > MAX_SEGMENT_LENGTH) throw invalidArgument(`each path segment must be at most ${MAX_SEGMENT_LENGTH} characters`);
  }
  return segments;
}

function inside(root: string, candidate: string): boolean {
  const rel = relative(root, candidate);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

const exists = (path: string) =>
  lstat(path).then(
    () => true,
    (error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? false : Promise.reject(error)),
  );

/** A path resolved inside a root folder: `path` is lexical; `real` is it with every symlink resolved (still inside). */
export interface ConfinedPath {
  root: string;
  segments: string[];
  /** root + segments, symlinks not followed. */
  path: string;
  /** The deepest existing ancestor (or the path itself) with symlinks resolved, plus the missing rest. */
  real: string;
  exists: boolean;
}

/**
 * Resolves `relativePath` under `root` and proves it stays there: lexically, then with
 * realpath of the deepest existing part (so a symlink planted inside that points
 * outside is refused). `followLast: false` checks only the parent when the last segment
 * is itself a symlink (to delete or list the link itself, never what it points to).
 */
export async function confine(root: string, relativePath: string, options: { followLast?: boolean } = {}): Promise<ConfinedPath> {
  const segments = pathSegments(relativePath);
  const realRoot = await realpath(root);
  const path = resolve(realRoot, ...segments);
  if (!inside(realRoot, path)) throw invalidArgument('path leads outside the project data directory');
  // Find the deepest existing prefix.
  let existing = segments.length;
  while (existing > 0 && !(await exists(join(realRoot, ...segments.slice(0, existing))))) existing--;
  const pathExists = existing === segments.length;
  let checkUpTo = existing;
  if (pathExists && options.followLast === false && segments.length > 0) {
    const stat = await lstat(path);
    if (stat.isSymbolicLink()) checkUpTo = existing - 1;
  }
  let realPrefix: string;
  try {
    realPrefix = await realpath(join(realRoot, ...segments.slice(0, checkUpTo)));
  } catch (error) {
    // A symlink whose target does not exist (or loops): nothing we may follow.
    if (['ENOENT', 'ELOOP', 'ENOTDIR'].includes((error as NodeJS.ErrnoException).code ?? '')) {
      throw invalidArgument('path goes through a broken symbolic link');
    }
    throw error;
  }
  if (!inside(realRoot, realPrefix)) {
    throw invalidArgument('path leads outside the project data directory through a symbolic link');
  }
  const real = join(realPrefix, ...segments.slice(checkUpTo));
  return { root: realRoot, segments, path, real, exists: pathExists };
}

/** Open flags that refuse to follow a symlink in the last component (raced in after the check). */
export const NO_FOLLOW = constants.O_NOFOLLOW;

export function missing(relativePath: string): never {
  throw notFound(`No file or folder "${relativePath}" in this project`);
}
