import { invalidArgument } from '#common/errors.js';
import type { OutputLine } from '#contracts/events.js';
import type { RunContext } from '#contracts/generated/scriptorium/logging/v1/logging.js';

export const EXPORT_FORMATS = ['text', 'jsonl', 'csv'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export function exportFormatOf(format: string): ExportFormat {
  const f = format || 'text';
  if (!(EXPORT_FORMATS as readonly string[]).includes(f)) {
    throw invalidArgument(`unknown export format "${format}": use format=text (plain lines), jsonl (one JSON object a line) or csv`, { format: `one of ${EXPORT_FORMATS.join(', ')}` });
  }
  return f as ExportFormat;
}

export const CONTENT_TYPES: Record<ExportFormat, string> = {
  text: 'text/plain; charset=utf-8',
  jsonl: 'application/x-ndjson',
  csv: 'text/csv; charset=utf-8',
};
export const EXTENSIONS: Record<ExportFormat, string> = { text: 'log', jsonl: 'jsonl', csv: 'csv' };

/** The run's context as the export states it (parameters already masked when stored). */
function contextFields(run: RunContext): [string, string][] {
  return [
    ['execution', run.executionId],
    ['script', run.scriptId],
    ['group', run.groupId],
    ['user', run.username || run.userId],
    ['project', run.projectName || run.projectId],
    ['parameters', run.parametersJson],
    ['started', run.startedAt || run.createdAt],
    ['duration_ms', run.durationMs === undefined ? '' : String(run.durationMs)],
    ['exit_code', run.exitCode === undefined ? '' : String(run.exitCode)],
    ['state', run.state],
  ];
}

const csvField = (value: string) => (/[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value);
const CSV_COLUMNS = ['execution', 'script', 'group', 'user', 'project', 'parameters', 'started', 'duration_ms', 'exit_code', 'state', 'sequence', 'timestamp', 'stream', 'text'];

/** How one log is written in a format: what comes before its lines, and each line. */
export interface LogWriter {
  head(): string;
  line(line: OutputLine): string;
}

export function writerFor(format: ExportFormat, run: RunContext): LogWriter {
  const fields = contextFields(run);
  switch (format) {
    case 'text':
      // A comment block the way shell tools skip it, then the output as printed.
      return { head: () => fields.map(([k, v]) => `# ${k}: ${v}\n`).join('') + '\n', line: (l) => `${l.text}\n` };
    case 'jsonl':
      return {
        head: () => `${JSON.stringify({ type: 'run', ...Object.fromEntries(fields.filter(([k]) => k !== 'parameters')), parameters: JSON.parse(run.parametersJson || '{}') })}\n`,
        line: (l) => `${JSON.stringify({ type: 'line', sequence: l.sequence, timestamp: l.timestamp, stream: l.stream, text: l.text })}\n`,
      };
    case 'csv': {
      // Every row carries the context, so a row read alone (or rows of many runs joined) still says whose it is.
      const prefix = fields.map(([, v]) => csvField(v)).join(',');
      return { head: () => `${CSV_COLUMNS.join(',')}\r\n`, line: (l) => `${prefix},${l.sequence},${l.timestamp},${l.stream},${csvField(l.text)}\r\n` };
    }
  }
}
