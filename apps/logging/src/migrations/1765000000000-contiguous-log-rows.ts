import type { MigrationInterface, QueryRunner } from 'typeorm';
import type { OutputLine } from '#contracts/events.js';
import { contiguousRuns, groupsOf, lineBytes } from '../logs/line-batches.js';
import { MAX_ROW_BYTES, MAX_ROW_LINES } from '../logs/log-store.service.js';

interface Row {
  first_sequence: number;
  last_sequence: number;
  lines: string;
}

/**
 * Rows written before this release could span a gap (a redelivered batch merged with
 * fresh lines), overlap each other, or weigh several MiB; readers then skipped the rows
 * inside the gap. Each affected log is rewritten as gap-free, non-overlapping rows bounded
 * by lines and bytes, and a stream now records how far it is stored without a hole
 * (`stored_through`) and the run's last sequence (`final_sequence`).
 */
export class ContiguousLogRows1765000000000 implements MigrationInterface {
  name = 'ContiguousLogRows1765000000000';

  async up(q: QueryRunner) {
    await q.query('ALTER TABLE logging.log_streams ADD COLUMN stored_through integer NOT NULL DEFAULT 0, ADD COLUMN final_sequence integer');
    const executions: { execution_id: string }[] = await q.query('SELECT DISTINCT execution_id FROM logging.log_chunks');
    for (const { execution_id: executionId } of executions) {
      const rows: Row[] = await q.query(
        'SELECT first_sequence, last_sequence, lines FROM logging.log_chunks WHERE execution_id = $1 ORDER BY first_sequence',
        [executionId],
      );
      const parsed = rows.map((r) => JSON.parse(r.lines) as OutputLine[]);
      let stored = rows;
      if (!wellFormed(rows, parsed)) {
        const bySequence = new Map<number, OutputLine>();
        for (const line of parsed.flat()) if (!bySequence.has(line.sequence)) bySequence.set(line.sequence, line);
        const lines = [...bySequence.values()].sort((a, b) => a.sequence - b.sequence);
        const groups = contiguousRuns(lines).flatMap((run) => groupsOf(run, MAX_ROW_LINES, MAX_ROW_BYTES));
        await q.query('DELETE FROM logging.log_chunks WHERE execution_id = $1', [executionId]);
        stored = groups.map((g) => ({ first_sequence: g[0].sequence, last_sequence: g.at(-1)!.sequence, lines: JSON.stringify(g) }));
        for (const row of stored) {
          await q.query('INSERT INTO logging.log_chunks (execution_id, first_sequence, last_sequence, lines) VALUES ($1, $2, $3, $4)', [
            executionId,
            row.first_sequence,
            row.last_sequence,
            row.lines,
          ]);
        }
      }
      let through = 0;
      for (const row of stored) {
        if (row.first_sequence !== through + 1) break;
        through = row.last_sequence;
      }
      await q.query(
        `UPDATE logging.log_streams SET stored_through = $2, line_count = GREATEST(line_count, $3) WHERE execution_id = $1`,
        [executionId, through, stored.at(-1)?.last_sequence ?? 0],
      );
    }
    // A log marked complete before stays complete: the lines it lacks were never going to come.
    await q.query('UPDATE logging.log_streams SET final_sequence = line_count WHERE complete');
    await q.query('CREATE INDEX log_chunks_last ON logging.log_chunks (execution_id, last_sequence)');
  }

  async down(q: QueryRunner) {
    await q.query('DROP INDEX logging.log_chunks_last');
    await q.query('ALTER TABLE logging.log_streams DROP COLUMN final_sequence, DROP COLUMN stored_through');
  }
}

/** Every row gap-free, within the bounds, after the previous one. */
function wellFormed(rows: Row[], parsed: OutputLine[][]): boolean {
  let previous = 0;
  return rows.every((row, i) => {
    const lines = parsed[i];
    const ok =
      row.first_sequence > previous &&
      lines.length === row.last_sequence - row.first_sequence + 1 &&
      lines.every((l, j) => l.sequence === row.first_sequence + j) &&
      lines.length <= MAX_ROW_LINES &&
      (lines.length === 1 || lines.reduce((sum, l) => sum + lineBytes(l), 0) <= MAX_ROW_BYTES);
    previous = row.last_sequence;
    return ok;
  });
}
