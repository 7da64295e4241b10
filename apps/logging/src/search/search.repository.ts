import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { OwnerScope } from '../logs/log-access.js';
import { RUN_LOG_COLUMNS, runConditions, type RunLogRow } from '../runs/log-runs.repository.js';
import type { RunFilter, SearchCursor } from './search-query.js';

export interface ScannedRun extends RunLogRow {
  cursor_at: string;
  metadata_matched: boolean;
  lines_matched: boolean;
}

export interface MatchedLine {
  execution_id: string;
  sequence: string;
  stream: string;
  marked: string;
}

/** The statement time limit of one search query, so a search never holds the database long (PostgreSQL; PGlite ignores it). */
const STATEMENT_TIMEOUT_MS = 5000;

const QUERY = `websearch_to_tsquery('simple', $1)`;
/** A row's vector: indexed, or computed for a row the indexer has not reached yet. */
const ROW_MATCHES = `(c.search_vector @@ q.q OR (c.search_vector IS NULL AND to_tsvector('simple', logging.lines_text(c.lines)) @@ q.q))`;
/** ts_headline marks matches with chr(1) … chr(2) (MARK_START, MARK_END), removed from the text beforehand. */
const HEADLINE_OPTIONS = `'StartSel=' || chr(1) || ', StopSel=' || chr(2) || ', HighlightAll=true'`;

/** The SQL of full-text search: PostgreSQL's own (tsvector, GIN), the same in PGlite. */
@Injectable()
export class SearchRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /** Whether PostgreSQL finds a word to search for in `query` (punctuation alone gives none). */
  async hasTerms(query: string): Promise<boolean> {
    const [row]: { nodes: number }[] = await this.db.query(`SELECT numnode(${QUERY}) AS nodes`, [query]);
    return row.nodes > 0;
  }

  /**
   * The next `batch` runs of the scope and filter after `cursor` (newest first), each with
   * whether the query matches its context or any of its lines (of `streams`).
   */
  async scan(query: string, scope: OwnerScope, filter: RunFilter, streams: string[] | null, cursor: SearchCursor | null, batch: number): Promise<ScannedRun[]> {
    const params: unknown[] = [query];
    const where = runConditions(scope, filter, params);
    if (cursor) where.push(`(r.created_at, r.execution_id) < ($${params.push(cursor.createdAt)}::timestamptz, $${params.push(cursor.executionId)}::uuid)`);
    const lineMatch = streams
      ? `EXISTS (SELECT 1 FROM logging.log_chunks c CROSS JOIN LATERAL jsonb_array_elements(c.lines::jsonb) e
           WHERE c.execution_id = r.execution_id AND ${ROW_MATCHES} AND e->>'stream' = ANY($${params.push(streams)}::text[]) AND to_tsvector('simple', e->>'text') @@ q.q)`
      : `EXISTS (SELECT 1 FROM logging.log_chunks c WHERE c.execution_id = r.execution_id AND ${ROW_MATCHES})`;
    const sql = `WITH q AS (SELECT ${QUERY} AS q),
      page AS (SELECT r.* FROM logging.log_runs r ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
               ORDER BY r.created_at DESC, r.execution_id DESC LIMIT ${Number(batch)})
      SELECT ${RUN_LOG_COLUMNS}, r.created_at::text AS cursor_at, r.search_vector @@ q.q AS metadata_matched, ${lineMatch} AS lines_matched
      FROM page r CROSS JOIN q LEFT JOIN logging.log_streams s USING (execution_id)
      ORDER BY r.created_at DESC, r.execution_id DESC`;
    return this.limited((run) => run(sql, params));
  }

  /**
   * Matching lines (of `streams`) of each run, after `afterSequence` and up to `throughSequence`,
   * in order, at most `perRun` of each, with ts_headline's marks around the matches.
   */
  async lines(query: string, executionIds: string[], streams: string[] | null, afterSequence: number, throughSequence: number, perRun: number): Promise<MatchedLine[]> {
    if (!executionIds.length) return [];
    const params: unknown[] = [query, executionIds, afterSequence, throughSequence, perRun];
    const streamMatch = streams ? `AND e->>'stream' = ANY($${params.push(streams)}::text[])` : '';
    const sql = `WITH q AS (SELECT ${QUERY} AS q)
      SELECT ids.id AS execution_id, m.sequence, m.stream,
             ts_headline('simple', replace(replace(m.text, chr(1), ''), chr(2), ''), q.q, ${HEADLINE_OPTIONS}) AS marked
      FROM unnest($2::uuid[]) AS ids(id) CROSS JOIN q CROSS JOIN LATERAL (
        SELECT (e->>'sequence')::bigint AS sequence, e->>'stream' AS stream, e->>'text' AS text
        FROM logging.log_chunks c CROSS JOIN LATERAL jsonb_array_elements(c.lines::jsonb) WITH ORDINALITY AS l(e, n)
        WHERE c.execution_id = ids.id AND c.last_sequence > $3::bigint AND c.first_sequence <= $4::bigint AND ${ROW_MATCHES}
          AND (e->>'sequence')::bigint > $3::bigint AND (e->>'sequence')::bigint <= $4::bigint ${streamMatch}
          AND to_tsvector('simple', e->>'text') @@ q.q
        ORDER BY c.first_sequence, l.n
        LIMIT $5) m
      ORDER BY ids.id, m.sequence`;
    return this.limited((run) => run(sql, params));
  }

  /** The last sequence of the first `rows` rows of a log after `afterSequence` (0: none left). */
  async windowEnd(executionId: string, afterSequence: number, rows: number): Promise<number> {
    const [row]: { through: number | null }[] = await this.db.query(
      `SELECT max(last_sequence)::integer AS through FROM (SELECT last_sequence FROM logging.log_chunks
       WHERE execution_id = $1 AND last_sequence > $2 ORDER BY last_sequence LIMIT $3) w`,
      [executionId, afterSequence, rows],
    );
    return row.through ?? 0;
  }

  /** Vectors for up to `rows` rows the indexer has not reached yet; answers how many it indexed. */
  async indexPending(rows: number): Promise<number> {
    // An UPDATE answers [rows, count] through TypeORM.
    const [, count]: [unknown[], number] = await this.db.query(
      `UPDATE logging.log_chunks c SET search_vector = to_tsvector('simple', logging.lines_text(c.lines))
       FROM (SELECT execution_id, first_sequence FROM logging.log_chunks WHERE search_vector IS NULL LIMIT $1 FOR UPDATE SKIP LOCKED) p
       WHERE c.execution_id = p.execution_id AND c.first_sequence = p.first_sequence RETURNING 1`,
      [rows],
    );
    return count;
  }

  /** Runs `work` in a short transaction with a statement time limit (SET LOCAL: no session state is left behind). */
  private limited<T>(work: (run: (sql: string, params: unknown[]) => Promise<T>) => Promise<T>): Promise<T> {
    return this.db.transaction(async (tx) => {
      await tx.query(`SET LOCAL statement_timeout = ${STATEMENT_TIMEOUT_MS}`);
      return work((sql, params) => tx.query(sql, params));
    });
  }
}
