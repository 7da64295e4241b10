import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { OutputLine } from '#contracts/events.js';
import { MAX_BATCH_BYTES, MAX_LINE_BYTES, OutputPump } from './output-pump.js';

function pump() {
  const batches: OutputLine[][] = [];
  const p = new OutputPump({ lines: (lines) => batches.push(lines), progress: () => undefined, result: () => undefined });
  return { p, batches, lines: () => batches.flat().map((l) => l.text) };
}

/** Feeds `text` in pieces of pseudo-random sizes (seeded), as pipes cut output. */
function feed(p: OutputPump, text: string, seed: number) {
  for (let at = 0; at < text.length; ) {
    seed = (seed * 48271) % 2147483647;
    const size = 1 + (seed % 70_000);
    p.write('stdout', text.slice(at, at + size));
    at += size;
  }
}

describe('OutputPump long lines', () => {
  it('keeps the first 256 KiB of a line whole characters only, and names the exact bytes dropped, however the output is cut', () => {
    const line = 'é'.repeat(200_000); // 400,000 bytes
    const texts = [1, 7, 12345].map((seed) => {
      const { p, lines } = pump();
      feed(p, `${line}\r\nshort\n`, seed);
      p.end();
      return lines();
    });
    const kept = 'é'.repeat(MAX_LINE_BYTES / 2);
    // The CR of the CRLF ending is no part of the line: 400,000 - 262,144 bytes dropped.
    assert.deepEqual(texts[0], [`${kept}… [137856 bytes dropped]`, 'short']);
    assert.deepEqual(texts[1], texts[0]);
    assert.deepEqual(texts[2], texts[0]);
  });

  it('publishes batches of at most about 256 KiB', () => {
    const { p, batches } = pump();
    for (let i = 0; i < 40; i++) p.write('stdout', `${'x'.repeat(50_000)}\n`);
    p.end();
    assert.equal(batches.flat().length, 40);
    for (const batch of batches) assert.ok(batch.reduce((n, l) => n + l.text.length, 0) <= MAX_BATCH_BYTES, `a batch of ${batch.length} lines`);
    assert.deepEqual(batches.flat().map((l) => l.sequence), Array.from({ length: 40 }, (_, i) => i + 1));
  });
});
