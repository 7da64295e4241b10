import { invalidArgument } from '#common/errors.js';
import type { Highlight, LogFilter } from '#contracts/generated/scriptorium/logging/v1/logging.js';

export const QUERY_SYNTAX = 'words to find (all must match), "an exact phrase", a OR b, -word to leave out; e.g. q=timeout "connection refused" -retry';
const MAX_QUERY_LENGTH = 500;

/**
 * Checks a search text before PostgreSQL reads it with websearch_to_tsquery (which accepts
 * anything and silently drops what it cannot use): a mistake gets a 400 that says how to write it.
 */
export function checkQuery(query: string): string {
  const q = query.trim();
  const bad = (problem: string) => invalidArgument(`${problem}. Write ${QUERY_SYNTAX}`, { q: problem });
  if (!q) throw bad('the search text is empty');
  if (q.length > MAX_QUERY_LENGTH) throw bad(`the search text is ${q.length} characters long, at most ${MAX_QUERY_LENGTH} are allowed`);
  if ((q.match(/"/g) ?? []).length % 2 === 1) throw bad('a quote is not closed: put a second " at the end of the phrase');
  const terms = q.replace(/"[^"]*"/g, ' "phrase" ').split(/\s+/).filter(Boolean);
  if (terms[0].toUpperCase() === 'OR' || terms.at(-1)!.toUpperCase() === 'OR') throw bad('OR must stand between two words');
  if (terms.some((t, i) => t.toUpperCase() === 'OR' && terms[i + 1]?.toUpperCase() === 'OR')) throw bad('OR OR: OR must stand between two words');
  if (!q.replace(/"[^"]*"/g, ' x ').replace(/(^|\s)-\S+/g, ' ').match(/[\p{L}\p{N}]/u)) {
    throw bad(terms.every((t) => t.startsWith('-')) ? 'the search only leaves words out (-word): give at least one word to find' : 'the search text has no word to find (letters or digits)');
  }
  return q;
}

export interface RunFilter {
  scriptId: string;
  groupId: string;
  projectId: string;
  states: string[];
  from: string | null;
  to: string | null;
  minDurationMs: number | null;
  maxDurationMs: number | null;
}

const STATES = ['queued', 'starting', 'running', 'succeeded', 'failed', 'timed_out', 'cancelled', 'lost'];

function instant(name: 'from' | 'to', value: string): string | null {
  if (!value) return null;
  const ms = Date.parse(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(ms)) {
    throw invalidArgument(`${name} "${value}" is not a date: write ISO 8601, e.g. 2026-01-31 or 2026-01-31T08:00:00Z`, { [name]: 'an ISO 8601 date or time' });
  }
  return new Date(ms).toISOString();
}

/** The run filters of a request, checked: dates are ISO 8601 and in order, durations in order, states known. */
export function runFilterOf(filter: LogFilter | undefined): RunFilter {
  const from = instant('from', filter?.from ?? '');
  const to = instant('to', filter?.to ?? '');
  if (from && to && from >= to) {
    throw invalidArgument(`the date range is inverted or empty: from (${from}) must be before to (${to}); swap them`, { from: 'must be before to', to: 'must be after from' });
  }
  const minDurationMs = filter?.minDurationMs ?? null;
  const maxDurationMs = filter?.maxDurationMs ?? null;
  if ((minDurationMs !== null && minDurationMs < 0) || (maxDurationMs !== null && maxDurationMs < 0)) throw invalidArgument('durations are milliseconds, 0 or more');
  if (minDurationMs !== null && maxDurationMs !== null && minDurationMs > maxDurationMs) {
    throw invalidArgument(`the duration range is inverted: minDurationMs (${minDurationMs}) must be at most maxDurationMs (${maxDurationMs}); swap them`, { minDurationMs: 'must be at most maxDurationMs' });
  }
  const states = (filter?.states ?? []).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
  const unknown = states.filter((s) => !STATES.includes(s));
  if (unknown.length) throw invalidArgument(`unknown state ${unknown.join(', ')}: states are ${STATES.join(', ')}`, { states: `one or more of ${STATES.join(', ')}` });
  return { scriptId: filter?.scriptId ?? '', groupId: filter?.groupId ?? '', projectId: filter?.projectId ?? '', states, from, to, minDurationMs, maxDurationMs };
}

/** Marks PostgreSQL's ts_headline puts around matches (control characters, removed from the text first). */
export const MARK_START = '\u0001';
export const MARK_END = '\u0002';

/** A line's text and the spans ts_headline marked in it (JavaScript string offsets). */
export function highlightsOf(marked: string): { text: string; highlights: Highlight[] } {
  let text = '';
  const highlights: Highlight[] = [];
  let start = -1;
  for (const ch of marked) {
    if (ch === MARK_START) start = text.length;
    else if (ch === MARK_END && start >= 0) {
      highlights.push({ start, end: text.length });
      start = -1;
    } else text += ch;
  }
  return { text, highlights };
}

/** Position of the last run a search looked at, so the next page continues after it. */
export interface SearchCursor {
  createdAt: string;
  executionId: string;
}

export function encodeCursor(c: SearchCursor): string {
  return Buffer.from(JSON.stringify([c.createdAt, c.executionId])).toString('base64url');
}

export function decodeCursor(token: string): SearchCursor | null {
  if (!token) return null;
  try {
    const [createdAt, executionId] = JSON.parse(Buffer.from(token, 'base64url').toString()) as [string, string];
    if (typeof createdAt === 'string' && typeof executionId === 'string' && !Number.isNaN(Date.parse(createdAt))) return { createdAt, executionId };
  } catch {
    // reported below
  }
  throw invalidArgument('pageToken is not one this service gave: pass the nextPageToken of the previous page unchanged, or none for the first page');
}
