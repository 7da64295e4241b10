import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { NatsEventBus } from '#common/bus.js';
import { currentRequestId, runWithRequestId } from '#common/request-context.js';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, nanos } from '@nats-io/transport-node';
import { DURABLE_STREAM, Subjects } from '#contracts/subjects.js';
import { freePort, waitFor } from '../harness/net.js';
import { startNats, type TestNats } from '../harness/postgres.js';

const batch = (executionId: string, sequence: number) => ({
  executionId,
  userId: 'u-1',
  lines: [{ sequence, stream: 'stdout' as const, text: `line ${sequence}`, timestamp: new Date().toISOString() }],
  final: false,
});

describe('NATS event bus', { timeout: 60_000 }, () => {
  let nats: TestNats;
  const buses: NatsEventBus[] = [];
  const bus = async (name: string) => {
    const connected = await NatsEventBus.connect(nats.url, name);
    buses.push(connected);
    return connected;
  };

  before(async () => {
    nats = await startNats();
  });
  after(async () => {
    for (const b of buses) await b.close();
    await nats?.stop();
  });

  test('a durable event published while its consumer is away reaches it when it subscribes; plain subscribers see it at once', async () => {
    const producer = await bus('producer');
    const live: number[] = [];
    producer.subscribe(Subjects.outputProduced, (e) => void live.push(e.lines[0].sequence));
    for (let i = 1; i <= 3; i++) producer.publish(Subjects.outputProduced, batch('exec-away', i));
    await waitFor(() => live.length === 3, 5000, 'the plain subscriber to see the three batches');

    const consumer = await bus('logging-1');
    const stored: number[] = [];
    consumer.subscribe(Subjects.outputProduced, async (e) => void stored.push(e.lines[0].sequence), { queue: 'logging' });
    await waitFor(() => stored.length === 3, 5000, 'the durable consumer to get what it missed');
    assert.deepEqual(stored, [1, 2, 3]);
    await consumer.close(); // later tests bind the same durable consumer
  });

  test('an event whose handler fails is delivered again; one handled is not', async () => {
    // Each durable subject has one queue (the stream is a work queue): this one is the audit trail's.
    const producer = await bus('producer-2');
    const consumer = await bus('auth-1');
    const attempts = new Map<string, number>();
    consumer.subscribe(
      Subjects.auditActionPerformed,
      async (e) => {
        const n = (attempts.get(e.targetId) ?? 0) + 1;
        attempts.set(e.targetId, n);
        if (e.targetId === 'flaky' && n === 1) throw new Error('the database is away');
      },
      { queue: 'auth-audit' },
    );
    const audit = (targetId: string) => ({ service: 'test', action: 'test.done', outcome: 'success' as const, actorId: '', actorUsername: '', targetType: 'thing', targetId });
    producer.publish(Subjects.auditActionPerformed, audit('flaky'));
    producer.publish(Subjects.auditActionPerformed, audit('fine'));
    await waitFor(() => attempts.get('flaky') === 2, 10_000, 'the failed event to come again');
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(attempts.get('fine'), 1, 'a handled event is acknowledged, not redelivered');
    assert.equal(attempts.get('flaky'), 2);
  });

  test('a durable stream and consumer left with other settings (an older version) are brought up to date', async () => {
    const connection = await connect({ servers: nats.url });
    try {
      const manager = await jetstreamManager(connection);
      await manager.streams.update(DURABLE_STREAM, { max_age: nanos(3600_000), max_bytes: 1024 * 1024 });
      const durable = 'logging-scriptorium_execution_output_produced'; // made by the first test
      await manager.consumers.update(DURABLE_STREAM, durable, { ack_wait: nanos(60_000), max_ack_pending: 5 });
      const upgraded = await bus('upgraded');
      const { config } = await manager.streams.info(DURABLE_STREAM);
      assert.equal(config.max_age, nanos(7 * 24 * 3600_000));
      assert.equal(config.max_bytes, 1024 ** 3);
      const got: number[] = [];
      upgraded.subscribe(Subjects.outputProduced, async (e) => void got.push(e.lines[0].sequence), { queue: 'logging' });
      upgraded.publish(Subjects.outputProduced, batch('exec-upgraded', 7));
      await waitFor(() => got.includes(7), 5000, 'the updated consumer to deliver');
      const consumer = await manager.consumers.info(DURABLE_STREAM, durable);
      assert.equal(consumer.config.ack_wait, nanos(10_000));
      assert.equal(consumer.config.max_ack_pending, 10_000);
      await upgraded.close(); // the last test binds the same durable consumer
    } finally {
      await connection.close();
    }
  });

  test('a NATS server without JetStream is refused with a message saying how to fix it', async () => {
    const port = await freePort();
    const plain = spawn('nats-server', ['-a', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
    try {
      // A broker that is away is waited for (the bus starts without it); one that answers without JetStream is refused.
      await waitFor(() => import('node:net').then(({ connect }) => new Promise<boolean>((resolve) => {
        const socket = connect(port, '127.0.0.1', () => { socket.end(); resolve(true); });
        socket.on('error', () => resolve(false));
      })), 5000, 'the server to listen');
      const refusal = await NatsEventBus.connect(`nats://127.0.0.1:${port}`, 'probe').then(
        (connected) => connected.close().then(() => new Error('connected')),
        (error: Error) => error,
      );
      assert.match(refusal.message, /has no usable JetStream.*-js/);
    } finally {
      plain.kill();
    }
  });

  test("an event published during a request carries its id; its handlers, durable or plain, run in that request's context", async () => {
    // One connection publishes and subscribes, so the plain subscription is in place before the publish.
    const consumer = await bus('reqid-logging');
    const seen: string[] = [];
    const mine = (e: { executionId: string }) => e.executionId === 'exec-reqid';
    consumer.subscribe(
      Subjects.outputProduced,
      async (e) => {
        await new Promise((resolve) => setTimeout(resolve, 5)); // still in the context after an await
        if (mine(e)) seen.push(`durable ${e.lines[0].sequence} ${currentRequestId()}`);
      },
      { queue: 'logging' },
    );
    consumer.subscribe(Subjects.outputProduced, (e) => void (mine(e) && seen.push(`plain ${e.lines[0].sequence} ${currentRequestId()}`)));
    runWithRequestId('req-event-1', () => consumer.publish(Subjects.outputProduced, batch('exec-reqid', 1)));
    consumer.publish(Subjects.outputProduced, batch('exec-reqid', 2));
    await waitFor(() => seen.length === 4, 5000, `both subscribers to see both batches (seen: ${seen.join(', ')})`);
    assert.deepEqual(seen.sort(), ['durable 1 req-event-1', 'durable 2 undefined', 'plain 1 req-event-1', 'plain 2 undefined']);
    await consumer.close();
  });
});
