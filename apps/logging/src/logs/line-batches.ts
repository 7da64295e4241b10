import type { OutputLine } from '#contracts/events.js';

/** What a line weighs in a stored row or a gRPC message: its text in UTF-8 plus room for the other fields. */
export function lineBytes(line: OutputLine): number {
  return Buffer.byteLength(line.text) + 96;
}

/**
 * Consecutive groups of `lines` (in their order) of at most `maxLines` lines and
 * `maxBytes` bytes each; a line heavier than `maxBytes` goes alone, never cut.
 */
export function groupsOf(lines: OutputLine[], maxLines: number, maxBytes: number): OutputLine[][] {
  const groups: OutputLine[][] = [];
  let group: OutputLine[] = [];
  let bytes = 0;
  for (const line of lines) {
    const weight = lineBytes(line);
    if (group.length && (group.length >= maxLines || bytes + weight > maxBytes)) {
      groups.push(group);
      group = [];
      bytes = 0;
    }
    group.push(line);
    bytes += weight;
  }
  if (group.length) groups.push(group);
  return groups;
}

/** Sorted lines split where a sequence is missing: each run is gap-free. */
export function contiguousRuns(sorted: OutputLine[]): OutputLine[][] {
  const runs: OutputLine[][] = [];
  for (const line of sorted) {
    const run = runs.at(-1);
    if (run && run.at(-1)!.sequence + 1 === line.sequence) run.push(line);
    else runs.push([line]);
  }
  return runs;
}
