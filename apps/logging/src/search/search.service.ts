import { Inject, Injectable } from '@nestjs/common';
import type { Caller } from '#common/auth.js';
import { invalidArgument } from '#common/errors.js';
import type { LineMatch, SearchHit, SearchLogRequest, SearchLogResponse, SearchLogsRequest, SearchLogsResponse } from '#contracts/generated/scriptorium/logging/v1/logging.js';
import { ownerScope, streamFilter } from '../logs/log-access.js';
import { runContextOf } from '../runs/run-context.js';
import type { LoggingConfig } from '../logging.config.js';
import { checkQuery, decodeCursor, encodeCursor, highlightsOf, QUERY_SYNTAX, runFilterOf } from './search-query.js';
import { SearchRepository, type MatchedLine } from './search.repository.js';

/** Runs looked at per query: bounded work, so the time limit is checked often. */
const RUNS_PER_SCAN = 200;
/** Rows of one log searched per query. */
const ROWS_PER_WINDOW = 20;
/** Matching line numbers listed per run (one more tells that there are more). */
const LINES_PER_HIT = 20;
const SNIPPETS_PER_HIT = 3;
/** A snippet's text is cut around its first match at about this many characters. */
const SNIPPET_CHARS = 400;
const DEFAULT_PAGE = 20;
const MAX_PAGE = 100;

/**
 * Full-text search over runs' logs and contexts. Every search has a time limit: it looks at
 * runs (or a log's rows) a bounded batch at a time, and when the limit is reached answers
 * what it found so far as partial, with where to continue.
 */
@Injectable()
export class SearchService {
  constructor(
    private readonly repository: SearchRepository,
    @Inject('SERVICE_CONFIG') private readonly config: LoggingConfig,
  ) {}

  async searchLogs(caller: Caller, request: SearchLogsRequest): Promise<SearchLogsResponse> {
    const query = await this.checkedQuery(request.query);
    const scope = ownerScope(caller, request.filter);
    const filter = runFilterOf(request.filter);
    const streams = this.streams(request.streams);
    const pageSize = this.pageSize(request.pageSize);
    const deadline = this.deadline(request.timeLimitMs);
    let cursor = decodeCursor(request.pageToken);
    const found: { hit: SearchHit; cursor: typeof cursor }[] = [];
    let partial = false;
    let exhausted = false;
    while (found.length < pageSize) {
      const scanned = await this.repository.scan(query, scope, filter, streams, cursor, RUNS_PER_SCAN);
      for (const run of scanned) {
        cursor = { createdAt: run.cursor_at, executionId: run.execution_id };
        if (!run.metadata_matched && !run.lines_matched) continue;
        found.push({ cursor, hit: { run: runContextOf(run), metadataMatched: run.metadata_matched, snippets: [], matchingLines: [], moreLines: false } });
        if (found.length === pageSize) break;
      }
      if (scanned.length < RUNS_PER_SCAN && found.length < pageSize) {
        exhausted = true;
        break;
      }
      if (Date.now() >= deadline && found.length < pageSize) {
        partial = true;
        break;
      }
    }
    const hits = found.map((f) => f.hit);
    const lines = await this.repository.lines(query, hits.map((h) => h.run!.executionId), streams, 0, Number.MAX_SAFE_INTEGER, LINES_PER_HIT + 1);
    for (const hit of hits) {
      const own = lines.filter((l) => l.execution_id === hit.run!.executionId);
      hit.moreLines = own.length > LINES_PER_HIT;
      hit.matchingLines = own.slice(0, LINES_PER_HIT).map((l) => Number(l.sequence));
      hit.snippets = own.slice(0, SNIPPETS_PER_HIT).map(snippetOf);
    }
    const last = partial || !exhausted ? (found.length === pageSize ? found.at(-1)!.cursor : cursor) : null;
    return { hits, nextPageToken: last ? encodeCursor(last) : '', partial };
  }

  /** Matching lines of one log (already authorized), by sequence, a window of rows at a time. */
  async searchLog(request: SearchLogRequest): Promise<SearchLogResponse> {
    const query = await this.checkedQuery(request.query);
    const streams = this.streams(request.streams);
    const limit = this.pageSize(request.limit, 1000, 100);
    const deadline = this.deadline(request.timeLimitMs);
    const matches: LineMatch[] = [];
    let after = Math.max(0, request.afterSequence);
    for (;;) {
      const through = await this.repository.windowEnd(request.executionId, after, ROWS_PER_WINDOW);
      if (!through) return { matches, nextAfterSequence: 0, partial: false };
      const found = await this.repository.lines(query, [request.executionId], streams, after, through, limit - matches.length);
      matches.push(...found.map(snippetOf));
      if (matches.length >= limit) return { matches, nextAfterSequence: Number(found.at(-1)!.sequence), partial: false };
      after = through;
      if (Date.now() >= deadline) return { matches, nextAfterSequence: after, partial: true };
    }
  }

  private async checkedQuery(text: string): Promise<string> {
    const query = checkQuery(text);
    if (!(await this.repository.hasTerms(query))) throw invalidArgument(`nothing in "${query}" can be searched for (only punctuation?). Write ${QUERY_SYNTAX}`, { q: 'give a word to find' });
    return query;
  }

  private streams(streams: string[]): string[] | null {
    const set = streamFilter(streams);
    return set ? [...set] : null;
  }

  private pageSize(asked: number, max = MAX_PAGE, fallback = DEFAULT_PAGE): number {
    if (asked < 0) throw invalidArgument(`the page size must be 1 to ${max}`);
    return asked === 0 ? fallback : Math.min(asked, max);
  }

  private deadline(askedMs: number): number {
    const limit = this.config.LOG_SEARCH_TIME_LIMIT_MS;
    return Date.now() + (askedMs > 0 ? Math.min(askedMs, limit) : limit);
  }
}

function snippetOf(line: MatchedLine): LineMatch {
  const { text, highlights } = highlightsOf(line.marked);
  if (text.length <= SNIPPET_CHARS) return { sequence: Number(line.sequence), stream: line.stream, text, highlights };
  // A long line is cut around its first match; the spans are shifted to the cut text.
  const from = Math.max(0, (highlights[0]?.start ?? 0) - SNIPPET_CHARS / 4);
  const to = from + SNIPPET_CHARS;
  return {
    sequence: Number(line.sequence),
    stream: line.stream,
    text: text.slice(from, to),
    highlights: highlights.filter((h) => h.start >= from && h.end <= to).map((h) => ({ start: h.start - from, end: h.end - from })),
  };
}
