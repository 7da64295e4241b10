import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { NatsEventBus } from '#common/bus.js';
import { DURABLE_STREAM, Subjects } from '#contracts/subjects.js';
import type { OutputProducedEvent } from '#contracts/events.js';
import { LocalProcessRuntime } from '../../apps/execution/src/runtime/local-process.runtime.js';
import { waitFor } from '../harness/net.js';
import { startNats, type TestNats } from '../harness/postgres.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const line = (sequence: number, text = `line ${sequence}`) => ({ sequence, stream: 'stdout' as const, text, timestamp: new Date().toISOString() });
const audit = (targetId: string) => ({ service: 'test', action: 'test.done', outcome: 'success' as const, actorId: '', actorUsername: '', targetType: 'thing', targetId });

/** Messages the durable stream ever stored: a resend that JetStream took for a new event would show here. */
async function storedSoFar(url: string): Promise<number> {
  const connection = await connect({ servers: url });
  try {
    return (await (await jetstreamManager(connection)).streams.info(DURABLE_STREAM)).state.last_seq;
  } finally {
    await connection.close();
  }
}

describe('durable publishing through the outbox', { timeout: 240_000 }, () => {
  let nats: TestNats;
  const root = mkdtempSync(join(tmpdir(), 'outbox-it-'));
  const buses: NatsEventBus[] = [];
  let dirs = 0;
  const bus = async (name: string, options: { outboxMaxBytes?: number; outboxDir?: string } = {}) => {
    const connected = await NatsEventBus.connect(nats.url, name, { outboxDir: join(root, `${name}-${++dirs}`), ...options });
    buses.push(connected);
    return connected;
  };
  /**
   * The logging side (output of one execution) and/or the audit side (targets with a prefix):
   * per subject, what was delivered in the order first seen, by event id.
   */
  const consumers = async (executionId: string, auditPrefix = '') => {
    const consumer = await bus('consumer');
    const deliveries = new Map<string, number>();
    const order = { output: [] as number[], audit: [] as string[] };
    if (executionId) consumer.subscribe(
      Subjects.outputProduced,
      async (e) => {
        const n = (deliveries.get(e.eventId) ?? 0) + 1;
        deliveries.set(e.eventId, n);
        if (n === 1 && e.executionId === executionId) order.output.push(...e.lines.map((l) => l.sequence));
      },
      { queue: 'logging' },
    );
    if (auditPrefix) consumer.subscribe(
      Subjects.auditActionPerformed,
      async (e) => {
        const n = (deliveries.get(e.eventId) ?? 0) + 1;
        deliveries.set(e.eventId, n);
        if (n === 1 && e.targetId.startsWith(auditPrefix)) order.audit.push(e.targetId.slice(auditPrefix.length));
      },
      { queue: 'auth-audit' },
    );
    return { consumer, deliveries, order };
  };

  before(async () => {
    nats = await startNats();
  });
  // Each test's consumers go with it: a durable consumer left bound would take the next test's events.
  afterEach(async () => {
    for (const b of buses.splice(0)) await b.close(1000);
  });
  after(async () => {
    await nats?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  for (const downMs of [1000, 10_000]) {
    test(`thousands of events published through a ${downMs / 1000} s broker restart are all stored once, in order per subject`, { timeout: 120_000 }, async () => {
      // The audit consumer stays bound through the restart (it binds again by itself); the output
      // one binds afterwards, so what it receives is the stream's own order, the publisher's doing
      // (a consumer bound through a disconnect gets what was in flight again after its ack wait).
      const audit_ = await consumers('', `${downMs}-`);
      const producer = await bus('producer');
      const storedBefore = await storedSoFar(nats.url);
      let published = 0;
      let publishing = true;
      const publisher = (async () => {
        while (publishing) {
          for (let i = 0; i < 10; i++) {
            published++;
            producer.publish(Subjects.outputProduced, { executionId: `exec-${downMs}`, userId: 'u-1', lines: [line(published)], final: false });
            producer.publish(Subjects.auditActionPerformed, audit(`${downMs}-t-${published}`));
          }
          await sleep(10);
        }
      })();
      await sleep(500);
      await nats.restart({ downMs });
      await sleep(500);
      publishing = false;
      await publisher;
      assert.ok(published >= 300, `published ${published} pairs`);
      assert.ok(await producer.flush(30_000), 'the outbox drains once the broker is back');
      assert.equal((await storedSoFar(nats.url)) - storedBefore, 2 * published, 'each event stored once (resends dropped by event id)');
      const expected = Array.from({ length: published }, (_, i) => i + 1);
      await waitFor(() => audit_.order.audit.length >= published, 30_000, `the audit consumer to get all ${published} events`);
      await sleep(300);
      assert.deepEqual([...audit_.order.audit].sort(), expected.map((n) => `t-${n}`).sort(), 'every audit event reached the consumer bound through the restart');
      const output = await consumers(`exec-${downMs}`);
      await waitFor(() => output.order.output.length >= published, 30_000, `the output consumer to get all ${published} batches`);
      await sleep(300);
      assert.deepEqual(output.order.output, expected, 'every output batch stored once, in publish order');
    });
  }

  test('services started while the broker is down for 60 s come up, keep what they publish, and deliver it all once it is back', { timeout: 120_000 }, async () => {
    const restarting = nats.restart({ downMs: 60_000 });
    await sleep(300); // the broker is down now
    const startedAt = Date.now();
    const producer = await bus('started-while-down');
    const { order } = await consumers('exec-outage', 'outage-');
    assert.ok(Date.now() - startedAt < 10_000, 'the bus does not wait for the broker to start');
    assert.equal(producer.isHealthy(), false);
    for (let n = 1; n <= 2000; n++) {
      producer.publish(Subjects.outputProduced, { executionId: 'exec-outage', userId: 'u-1', lines: [line(n)], final: false });
      producer.publish(Subjects.auditActionPerformed, audit(`outage-${n}`));
      if (n % 200 === 0) await sleep(5000); // spread over the outage
    }
    assert.equal(producer.problem(), 'message broker unreachable, 4000 events waiting');
    await restarting;
    assert.ok(await producer.flush(30_000), 'the outbox drains once the broker is back');
    assert.equal(producer.problem(), undefined);
    await waitFor(() => order.output.length >= 2000 && order.audit.length >= 2000, 30_000, 'the consumers to get everything');
    await sleep(300);
    assert.deepEqual(order.output, Array.from({ length: 2000 }, (_, i) => i + 1));
    assert.deepEqual(order.audit, Array.from({ length: 2000 }, (_, i) => String(i + 1)));
  });

  test('events journaled by a publisher killed (SIGKILL) while the broker is down are delivered by its successor on the same outbox', { timeout: 90_000 }, async () => {
    const { order } = await consumers('exec-killed');
    const dir = join(root, 'killed-publisher');
    const script = new URL('./outbox-publisher.process.js', import.meta.url).pathname;
    const restarting = nats.restart({ downMs: 5000 });
    await sleep(300); // the broker is down now
    const first = spawn(process.execPath, [script, nats.url, dir, '500'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let said = '';
    first.stdout!.on('data', (chunk) => (said += chunk));
    await waitFor(() => said.includes('journaled 500'), 20_000, 'the publisher to journal its events');
    const killed = new Promise((r) => first.once('exit', r));
    first.kill('SIGKILL');
    await killed;
    await restarting;
    await sleep(1000);
    assert.equal(order.output.length, 0, 'nothing was delivered by the killed publisher');
    const second = spawn(process.execPath, [script, nats.url, dir, '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let secondSaid = '';
    second.stdout!.on('data', (chunk) => (secondSaid += chunk));
    await new Promise((r) => second.once('exit', r));
    assert.match(secondSaid, /flushed/);
    assert.doesNotMatch(secondSaid, /not flushed/);
    await waitFor(() => order.output.length >= 500, 20_000, 'the journaled events to arrive');
    assert.deepEqual(order.output, Array.from({ length: 500 }, (_, i) => i + 1));
  });

  test('past its bound the outbox reports congestion (readiness says so), and relief once the broker took it', { timeout: 90_000 }, async () => {
    const { order } = await consumers('exec-bound');
    const producer = await bus('bounded', { outboxMaxBytes: 64 * 1024 });
    const states: boolean[] = [];
    producer.onCongestion((congested) => states.push(congested));
    const restarting = nats.restart({ downMs: 3000 });
    await waitFor(() => producer.problem()?.startsWith('message broker unreachable'), 5000, 'the bus to see the broker gone');
    let n = 0;
    while (!states.length) producer.publish(Subjects.outputProduced, { executionId: 'exec-bound', userId: 'u-1', lines: [line(++n, 'x'.repeat(1000))], final: false });
    assert.deepEqual(states, [true]);
    assert.match(producer.problem()!, /^outbox full: output of running scripts is paused \(\d+ events waiting\)$/);
    await restarting;
    await waitFor(() => states.length === 2, 20_000, 'relief');
    assert.deepEqual(states, [true, false]);
    await waitFor(() => order.output.length >= n, 20_000, 'every event to arrive');
    assert.deepEqual(order.output, Array.from({ length: n }, (_, i) => i + 1));
    assert.equal(producer.problem(), undefined);
  });

  test('a script writing fast is paused while the outbox is full and resumes after, losing nothing', { timeout: 120_000 }, async () => {
    const { order } = await consumers('exec-fast');
    const producer = await bus('execution', { outboxMaxBytes: 256 * 1024 });
    const runtime = new LocalProcessRuntime({ LOCAL_SANDBOX: 'off', LOCAL_SANDBOX_NETWORK: 'host', RUN_MEMORY_LIMIT_MB: 512, RUN_CPU_LIMIT_SECONDS: 60, RUN_FILE_SIZE_LIMIT_MB: 10, RUN_OUTPUT_LIMIT_MB: 100, DATA_DIR: root, INSTANCE_ID: 'outbox-it' });
    producer.onCongestion((congested) => runtime.holdOutput(congested));
    const total = 200_000;
    let sequence = 0;
    let partial = '';
    const exited = new Promise<void>((resolve, reject) => {
      runtime.start(
        {
          executionId: '00000000-0000-4000-8000-00000000b0b0',
          interpreter: '/usr/bin/python3',
          scriptPath: join(root, 'missing', 'fast.py'),
          scriptSource: `import sys\nfor i in range(1, ${total + 1}):\n    sys.stdout.write(f"{i:08d} {'y' * 40}\\n")\n`,
          args: [],
          env: {},
          workingDir: join(root, 'fast'),
          timeoutSeconds: 110,
        },
        {
          started: () => undefined,
          stdout: (chunk) => {
            const parts = (partial + chunk).split('\n');
            partial = parts.pop()!;
            const lines = parts.map((text) => line(++sequence, text));
            producer.publish(Subjects.outputProduced, { executionId: 'exec-fast', userId: 'u-1', lines, final: false });
          },
          stderr: () => undefined,
          exited: () => resolve(),
          failedToStart: (message) => reject(new Error(message)),
        },
      );
    });
    await waitFor(() => sequence > 1000, 10_000, 'the script to write');
    const restarting = nats.restart({ downMs: 4000 });
    await waitFor(() => producer.problem()?.startsWith('outbox full'), 10_000, 'the outbox to fill');
    await sleep(500);
    const held = sequence;
    await sleep(1500);
    assert.equal(sequence, held, 'no output is read while the outbox is full');
    assert.ok(held < total, `the script is not done (${held} of ${total} lines)`);
    await restarting;
    await exited;
    assert.equal(sequence, total, 'every line read once resumed');
    assert.equal(partial, '');
    await waitFor(() => order.output.length >= total, 60_000, `every line to arrive (have ${order.output.length})`);
    assert.equal(order.output.length, total, 'none doubled');
    assert.ok([...order.output].sort((x, y) => x - y).every((s, i) => s === i + 1), 'none lost');
    await runtime.onApplicationShutdown();

  });

  test('a broker restarted with an empty store gets the stream and the durable consumers back', { timeout: 60_000 }, async () => {
    const { order } = await consumers('', 'wipe-');
    const producer = await bus('after-wipe');
    producer.publish(Subjects.auditActionPerformed, audit('wipe-before'));
    await waitFor(() => order.audit.includes('before'), 10_000, 'the first event');
    await nats.restart({ downMs: 500, wipe: true });
    producer.publish(Subjects.auditActionPerformed, audit('wipe-after'));
    await waitFor(() => order.audit.includes('after'), 20_000, 'the event after the wipe');
    assert.deepEqual(order.audit, ['before', 'after']);
  });
});
