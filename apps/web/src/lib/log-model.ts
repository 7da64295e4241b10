// A run's log as the viewer holds it: an append-only array (never proxied: a million lines stay
// cheap), ANSI parsed only for the rows on screen, and search over the text without escapes.
import Anser from 'anser';

type AnserJsonEntry = Anser.AnserJsonEntry;
import type { LogLine } from './schemas.js';

export interface Segment {
  text: string;
  style: string;
}

/** The line's text as coloured segments; the text itself is never markup. */
export function segments(text: string): Segment[] {
  if (!text.includes('\u001b')) return [{ text, style: '' }];
  return (Anser.ansiToJson(text, { json: true, remove_empty: true }) as AnserJsonEntry[]).map((entry) => {
    const style: string[] = [];
    if (entry.fg) style.push(`color: rgb(${entry.fg})`);
    if (entry.bg) style.push(`background-color: rgb(${entry.bg})`);
    for (const d of entry.decorations ?? []) {
      if (d === 'bold') style.push('font-weight: bold');
      else if (d === 'italic') style.push('font-style: italic');
      else if (d === 'underline') style.push('text-decoration: underline');
      else if (d === 'dim') style.push('opacity: 0.7');
      else if (d === 'strikethrough') style.push('text-decoration: line-through');
    }
    return { text: entry.content, style: style.join('; ') };
  });
}

export const plainText = (text: string) => (text.includes('\u001b') ? Anser.ansiToText(text) : text);

export class LogModel {
  readonly lines: LogLine[] = [];
  /** The searchable text of each line, made on the first search (most logs are never searched). */
  private readonly lowered: string[] = [];

  append(batch: LogLine[]) {
    for (const line of batch) this.lines.push(line);
  }

  get length() {
    return this.lines.length;
  }

  /** Indexes of the lines containing `needle` (case-insensitive), from `from` on. */
  find(needle: string, from = 0): number[] {
    const n = needle.toLowerCase();
    if (!n) return [];
    for (let i = this.lowered.length; i < this.lines.length; i++) this.lowered.push(plainText(this.lines[i].text ?? '').toLowerCase());
    const out: number[] = [];
    for (let i = from; i < this.lowered.length; i++) if (this.lowered[i].includes(n)) out.push(i);
    return out;
  }

  text(): string {
    return this.lines.map((l) => plainText(l.text ?? '')).join('\n');
  }
}
