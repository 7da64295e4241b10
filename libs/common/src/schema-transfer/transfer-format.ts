import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import type { TransferLine } from './schema-transfer.repository.js';

/**
 * The text of a schema export, one line each: `H` header (JSON), `T` table (JSON name and
 * columns), `R` row (PostgreSQL's JSON of it), `S` sequence (JSON name and value). The
 * tag and a tab come first, so no row's content can be taken for a table.
 */
export const EXPORT_FORMAT = 'scriptorium-schema/1';

export interface ExportHeader {
  format: string;
  service: string;
  schema: string;
  migrations: string[];
}

export async function* encodeLines(header: ExportHeader, lines: AsyncIterable<TransferLine>): AsyncGenerator<string> {
  yield `H\t${JSON.stringify(header)}\n`;
  for await (const line of lines) yield encodeLine(line);
}

export function encodeLine(line: TransferLine): string {
  if (line.kind === 'row') return `R\t${line.json}\n`;
  if (line.kind === 'table') return `T\t${JSON.stringify({ name: line.name, columns: line.columns })}\n`;
  return `S\t${JSON.stringify({ name: line.name, value: line.value })}\n`;
}

/** Splits an export's text into its header and its lines; a malformed line fails with its number. */
export async function decodeLines(text: Readable): Promise<{ header: ExportHeader; lines: AsyncGenerator<TransferLine> }> {
  const reader = createInterface({ input: text, crlfDelay: Infinity })[Symbol.asyncIterator]();
  const first = await reader.next();
  if (first.done || !first.value.startsWith('H\t')) throw new Error('not a schema export (no header line)');
  const header = JSON.parse(first.value.slice(2)) as ExportHeader;
  if (header.format !== EXPORT_FORMAT) throw new Error(`schema export format ${JSON.stringify(header.format)} is not ${EXPORT_FORMAT}`);
  async function* lines(): AsyncGenerator<TransferLine> {
    let number = 1;
    for (;;) {
      const next = await reader.next();
      if (next.done) return;
      number++;
      const value = next.value;
      const body = value.slice(2);
      if (value.startsWith('R\t')) yield { kind: 'row', json: body };
      else if (value.startsWith('T\t')) yield { kind: 'table', ...(JSON.parse(body) as { name: string; columns: string[] }) };
      else if (value.startsWith('S\t')) yield { kind: 'sequence', ...(JSON.parse(body) as { name: string; value: string | null }) };
      else if (value !== '') throw new Error(`schema export line ${number} is not a table, row or sequence`);
    }
  }
  return { header, lines: lines() };
}
