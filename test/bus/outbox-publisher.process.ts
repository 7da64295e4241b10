// A publisher in its own process, for the outbox spec: journals `count` durable events
// (numbered from `from`), says so, then stays until killed; with count 0 it sends what its
// predecessor left in the outbox directory and exits once JetStream acknowledged it all.
import { NatsEventBus } from '#common/bus.js';
import { Subjects } from '#contracts/subjects.js';

const [url, outboxDir, count, from = '1'] = process.argv.slice(2);
const bus = await NatsEventBus.connect(url!, 'outbox-publisher', { outboxDir });
for (let n = Number(from); n < Number(from) + Number(count); n++) {
  const line = { sequence: n, stream: 'stdout' as const, text: `line ${n}`, timestamp: new Date().toISOString() };
  bus.publish(Subjects.outputProduced, { executionId: 'exec-killed', userId: 'u-1', lines: [line], final: false });
}
process.stdout.write(`journaled ${count}\n`);
if (count === '0') {
  const flushed = await bus.flush(30_000);
  await bus.close();
  process.stdout.write(flushed ? 'flushed\n' : 'not flushed\n');
} else {
  setInterval(() => undefined, 1000);
}
