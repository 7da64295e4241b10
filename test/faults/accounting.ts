/**
 * Exact line accounting for the fault suite.
 *
 * What counts as printed: the fixture script (fixtures/faults/counter.py) writes `<tag> <n>` to
 * stdout, flushes, and only after that write returned appends `n` to its side file. The side file
 * is therefore the list of lines that reached the pipe to the platform. A script killed between the
 * two steps may have written one more line than its side file lists: that one line (number
 * max + 1, only for a run that did not succeed) is reported as `inFlight`, not as unexpected.
 *
 * What counts as seen: the lines of a log (the stored one read back through the REST API, or what
 * a live viewer received across its reconnects) whose text is exactly `<tag> <n>`, in the order
 * they came. Platform lines (e.g. "Run cancelled") are ignored.
 */

export interface LineTally {
  /** Lines the script printed. */
  printed: number;
  /** Lines of this run's tag in the log, duplicates included. */
  seen: number;
  /** Printed numbers that never appear. */
  lost: number[];
  /** Numbers that appear more than once (each listed once); `doubledLines` counts the extra copies. */
  doubled: number[];
  doubledLines: number;
  /** Numbers whose first appearance comes after a higher number's. */
  outOfOrder: number[];
  /** Numbers that appear but were never printed (besides the one line in flight). */
  unexpected: number[];
  /** The line written just before the script was killed, if it appears; not an error. */
  inFlight: number | null;
}

/** Numbers listed in a side file, one per line (a torn last line from a kill is ignored). */
export function parseSideFile(text: string): number[] {
  const lines = text.split('\n');
  if (!text.endsWith('\n')) lines.pop();
  return lines.filter((l) => l !== '').map((l) => {
    if (!/^\d+$/.test(l)) throw new Error(`side file line "${l}" is not a number`);
    return Number(l);
  });
}

/** The numbers of `tag`'s lines among log texts, in order. */
export function numbersOf(tag: string, texts: Iterable<string>): number[] {
  const prefix = `${tag} `;
  const out: number[] = [];
  for (const raw of texts) {
    const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (text.startsWith(prefix) && /^\d+$/.test(text.slice(prefix.length))) out.push(Number(text.slice(prefix.length)));
  }
  return out;
}

/**
 * Compares what a script printed (`printed`: its side file, which must be 1..k) with the numbers
 * seen in a log, in order. `ended` says the script may have been killed (run not succeeded).
 */
export function tally(printed: number[], seen: number[], options: { killed: boolean }): LineTally {
  printed.forEach((n, i) => {
    if (n !== i + 1) throw new Error(`side file is not 1..${printed.length}: entry ${i + 1} is ${n}`);
  });
  const printedCount = printed.length;
  const counts = new Map<number, number>();
  const outOfOrder: number[] = [];
  let highest = 0;
  for (const n of seen) {
    const count = (counts.get(n) ?? 0) + 1;
    counts.set(n, count);
    if (count > 1) continue; // A repeat is counted as doubled, not again as reordered.
    if (n < highest) outOfOrder.push(n);
    highest = Math.max(highest, n);
  }
  const lost: number[] = [];
  for (let n = 1; n <= printedCount; n++) if (!counts.has(n)) lost.push(n);
  const doubled = [...counts].filter(([, c]) => c > 1).map(([n]) => n).sort((a, b) => a - b);
  const doubledLines = [...counts.values()].reduce((sum, c) => sum + Math.max(0, c - 1), 0);
  let inFlight: number | null = null;
  const unexpected: number[] = [];
  for (const n of [...counts.keys()].sort((a, b) => a - b)) {
    if (n >= 1 && n <= printedCount) continue;
    if (options.killed && n === printedCount + 1) inFlight = n;
    else unexpected.push(n);
  }
  return { printed: printedCount, seen: seen.length, lost, doubled, doubledLines, outOfOrder, unexpected, inFlight };
}

/** True when nothing was lost, doubled, reordered or invented. */
export function clean(t: LineTally): boolean {
  return !t.lost.length && !t.doubled.length && !t.outOfOrder.length && !t.unexpected.length;
}

/** `[1,2,3,7,9,10]` → "1–3, 7, 9–10", at most `max` ranges then "… (n more)". */
export function ranges(numbers: number[], max = 8): string {
  const parts: string[] = [];
  for (let i = 0; i < numbers.length; ) {
    let j = i;
    while (j + 1 < numbers.length && numbers[j + 1] === numbers[j] + 1) j++;
    parts.push(i === j ? `${numbers[i]}` : `${numbers[i]}–${numbers[j]}`);
    i = j + 1;
  }
  return parts.length > max ? `${parts.slice(0, max).join(', ')}, … (${parts.length - max} more ranges)` : parts.join(', ');
}

/** One sentence for a failure message, e.g. "12 of 301 lost (41–52), 0 doubled, 0 out of order". */
export function describeTally(t: LineTally): string {
  const parts = [
    `${t.lost.length} of ${t.printed} printed lines lost${t.lost.length ? ` (${ranges(t.lost)})` : ''}`,
    `${t.doubledLines} doubled${t.doubled.length ? ` (${ranges(t.doubled)})` : ''}`,
    `${t.outOfOrder.length} out of order${t.outOfOrder.length ? ` (${ranges(t.outOfOrder)})` : ''}`,
  ];
  if (t.unexpected.length) parts.push(`${t.unexpected.length} never printed (${ranges(t.unexpected)})`);
  return parts.join(', ');
}
