import type { Caller } from '#common/auth.js';
import { invalidArgument, permissionDenied } from '#common/errors.js';
import type { LogDeletion } from '#contracts/generated/scriptorium/logging/v1/logging.js';

/** Whose runs a query covers: one user's, or everyone's (admins only). */
export type OwnerScope = { userId: string } | { allUsers: true };

/** A caller reads their own runs' logs; admins everyone's. */
export function mayRead(caller: Caller, ownerId: string): boolean {
  return caller.userId === ownerId || caller.level === 'admin';
}

/** The caller's own runs, unless an admin names a user or asks for everyone's. */
export function ownerScope(caller: Caller, filter: { userId?: string; allUsers?: boolean } | undefined): OwnerScope {
  const userId = filter?.userId ?? '';
  const allUsers = filter?.allUsers ?? false;
  if ((allUsers || (userId && userId !== caller.userId)) && caller.level !== 'admin') {
    throw permissionDenied(`only admins read other users' logs; you are ${caller.level} (leave userId and allUsers out for your own)`);
  }
  if (allUsers && userId) throw invalidArgument('give either userId (one user\'s logs) or allUsers (everyone\'s), not both');
  return allUsers ? { allUsers: true } : { userId: userId || caller.userId };
}

export const LINE_STREAMS = ['stdout', 'stderr', 'system'] as const;

/** The stream classes asked for (undefined: all), refusing unknown ones. */
export function streamFilter(streams: readonly string[] | undefined): ReadonlySet<string> | undefined {
  const asked = (streams ?? []).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
  if (!asked.length) return undefined;
  const unknown = asked.filter((s) => !(LINE_STREAMS as readonly string[]).includes(s));
  if (unknown.length) throw invalidArgument(`unknown stream ${unknown.map((s) => `"${s}"`).join(', ')}: streams are ${LINE_STREAMS.join(', ')} (e.g. streams=stderr,system)`, { streams: `one or more of ${LINE_STREAMS.join(', ')}` });
  return new Set(asked);
}

/** How a deleted log is described to readers; undefined for a log that is still there. */
export function deletionOf(stream: { deletedAt: Date | null; deletedBy: string; deletionReason: string } | { deleted_at: Date | null; deleted_by: string | null; deletion_reason: string | null } | null | undefined): LogDeletion | undefined {
  if (!stream) return undefined;
  const at = 'deletedAt' in stream ? stream.deletedAt : stream.deleted_at;
  if (!at) return undefined;
  const by = 'deletedBy' in stream ? stream.deletedBy : (stream.deleted_by ?? '');
  const reason = 'deletionReason' in stream ? stream.deletionReason : (stream.deletion_reason ?? '');
  return { deletedAt: new Date(at).toISOString(), deletedBy: by, reason };
}
