import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NatsEventBus } from '../libs/common/src/bus.js';
import { Subjects } from '../libs/contracts/src/subjects.js';
import { startNats } from '../test/harness/postgres.js';

const batch = (n: number) => ({
  executionId: 'bench',
  userId: 'u',
  lines: [{ sequence: n, stream: 'stdout' as const, text: `line ${n} ${'x'.repeat(60)}`, timestamp: new Date().toISOString() }],
  final: false,
});

/** The durable publishing path: journal + JetStream acknowledgement, with the broker up and through an outage. */
export async function runOutboxBench(events = 50_000, downMs = 10_000) {
  const nats = await startNats();
  const dir = mkdtempSync(join(tmpdir(), 'scriptorium-outbox-bench-'));
  try {
    const bus = await NatsEventBus.connect(nats.url, 'bench', { outboxDir: join(dir, 'outbox'), outboxMaxBytes: 1024 ** 3 });
    let start = performance.now();
    for (let n = 1; n <= events; n++) bus.publish(Subjects.outputProduced, batch(n));
    const journalMs = performance.now() - start;
    await bus.flush(120_000);
    const ackedMs = performance.now() - start;

    const restarting = nats.restart({ downMs });
    while (!bus.problem()) await new Promise((r) => setTimeout(r, 10));
    for (let n = 1; n <= events; n++) bus.publish(Subjects.outputProduced, batch(events + n));
    const waiting = bus.outboxState();
    await restarting;
    start = performance.now();
    const drained = await bus.flush(120_000);
    const drainMs = performance.now() - start;
    await bus.close();

    console.log(`\nDurable publishing through the outbox (${events.toLocaleString()} output events of one line)`);
    console.log(`  broker up:   journaled in ${journalMs.toFixed(0)} ms (${((journalMs * 1000) / events).toFixed(1)} µs each), all acknowledged in ${ackedMs.toFixed(0)} ms (${Math.round(events / (ackedMs / 1000)).toLocaleString()}/s)`);
    console.log(`  broker down ${downMs / 1000} s: ${waiting.waiting.toLocaleString()} waiting (${(waiting.bytes / 1024 ** 2).toFixed(1)} MiB on disk); drained ${drained ? 'completely' : 'NOT completely'} ${drainMs.toFixed(0)} ms after it was back`);
  } finally {
    await nats.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
