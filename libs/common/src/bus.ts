import { createHash, randomUUID } from 'node:crypto';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { AckPolicy, DiscardPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType, type ConsumerMessages, type JetStreamClient } from '@nats-io/jetstream';
import { connect, nanos, type NatsConnection } from '@nats-io/transport-node';
import type { EventEnvelope, EventMap } from '#contracts/events.js';
import { DURABLE_STREAM, DURABLE_SUBJECTS } from '#contracts/subjects.js';
import { rootLogger } from './logger.js';
import { Outbox, type OutboxRecord } from './outbox.js';
import { currentRequestId, runWithRequestId } from './request-context.js';

export type EventSubject = keyof EventMap;
export type EventBody<S extends EventSubject> = Omit<EventMap[S], keyof EventEnvelope>;
export type EventHandler<S extends EventSubject> = (event: EventMap[S]) => void | Promise<void>;

export interface SubscribeOptions {
  /** Subscribers sharing a queue name split the messages (one replica handles each). */
  queue?: string;
}

/**
 * Publish/subscribe of the events in `EventMap`. Handlers are called in publish
 * order; a handler that needs ordering across awaits serializes itself.
 */
export abstract class EventBus {
  abstract publish<S extends EventSubject>(subject: S, body: EventBody<S>): void;
  abstract subscribe<S extends EventSubject>(subject: S, handler: EventHandler<S>, options?: SubscribeOptions): () => void;
  abstract isHealthy(): boolean;
  abstract close(): Promise<void>;

  /** Why the bus cannot do its job right now (for readiness), without internal addresses; undefined when it can. */
  problem(): string | undefined {
    return this.isHealthy() ? undefined : 'message broker unreachable';
  }

  /**
   * Called with true when durable events wait beyond the outbox's bound (producers should
   * hold their output), and with false once they drained. A bus without an outbox never is.
   */
  onCongestion(_listener: (congested: boolean) => void): () => void {
    return () => undefined;
  }
}

function envelope<S extends EventSubject>(body: EventBody<S>): EventMap[S] {
  const requestId = currentRequestId();
  return { eventId: randomUUID(), occurredAt: new Date().toISOString(), ...(requestId ? { requestId } : {}), ...body } as EventMap[S];
}

/**
 * Calls a handler at once, in the request context of the event's request when it names one;
 * resolves true when it handled the event, false (logged) when it failed.
 */
function handle(subject: string, handler: (event: never) => void | Promise<void>, event: unknown): Promise<boolean> {
  const failed = (error: unknown) => {
    logHandlerError(subject, error);
    return false;
  };
  const call = () => {
    try {
      return Promise.resolve(handler(event as never)).then(() => true, failed);
    } catch (error) {
      return Promise.resolve(failed(error));
    }
  };
  const { requestId } = event as Partial<EventEnvelope>;
  return requestId ? runWithRequestId(requestId, call) : call();
}

function logHandlerError(subject: string, error: unknown) {
  rootLogger().error({ subject, err: error }, 'event handler failed');
}

interface LocalSubscription {
  handler: (event: never) => void | Promise<void>;
  queue?: string;
}

/** The all-in-one bus: same semantics as NATS core (fan-out, queue groups), no network. */
export class InProcessEventBus extends EventBus {
  private readonly subscriptions = new Map<string, LocalSubscription[]>();
  private readonly nextInQueue = new Map<string, number>();

  publish<S extends EventSubject>(subject: S, body: EventBody<S>): void {
    const event = envelope(body);
    const subscribers = this.subscriptions.get(subject) ?? [];
    const queues = new Map<string, LocalSubscription[]>();
    for (const subscription of subscribers) {
      if (!subscription.queue) void handle(subject, subscription.handler, event);
      else queues.set(subscription.queue, [...(queues.get(subscription.queue) ?? []), subscription]);
    }
    for (const [queue, members] of queues) {
      const key = `${subject}|${queue}`;
      const index = (this.nextInQueue.get(key) ?? 0) % members.length;
      this.nextInQueue.set(key, index + 1);
      void handle(subject, members[index].handler, event);
    }
  }

  subscribe<S extends EventSubject>(subject: S, handler: EventHandler<S>, options: SubscribeOptions = {}): () => void {
    const subscription: LocalSubscription = { handler: handler as LocalSubscription['handler'], queue: options.queue };
    this.subscriptions.set(subject, [...(this.subscriptions.get(subject) ?? []), subscription]);
    return () => this.subscriptions.set(subject, (this.subscriptions.get(subject) ?? []).filter((s) => s !== subscription));
  }

  isHealthy(): boolean {
    return true;
  }

  async close(): Promise<void> {
    this.subscriptions.clear();
  }
}

/** How long, and up to what size, the durable stream keeps events nobody acknowledged (beyond, the oldest go). */
const DURABLE_MAX_AGE_MS = 7 * 24 * 3600 * 1000;
const DURABLE_MAX_BYTES = 1024 ** 3;
/** A resend (the acknowledgement was lost) within this window is dropped by JetStream as a duplicate of the same event id. */
const DUPLICATE_WINDOW_MS = 10 * 60 * 1000;
/** Redelivery of an event whose handler neither finished nor failed (its replica died mid-way). */
const DURABLE_ACK_WAIT_MS = 10_000;
/** Durable publishes awaiting their acknowledgement at once. */
const PUBLISH_WINDOW = 256;
const PUBLISH_TIMEOUT_MS = 5000;
const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 2000;
/** At start-up, how long to wait for the broker before starting without it (it connects later). */
const FIRST_CONNECT_WAIT_MS = 3000;
/** Below this share of its bound a congested outbox counts as relieved (no flapping at the bound). */
const RELIEF_RATIO = 0.5;
export const DEFAULT_OUTBOX_MAX_BYTES = 128 * 1024 ** 2;

export interface NatsBusOptions {
  /** The outbox directory; by default one per service and installation under the temp dir. */
  outboxDir?: string;
  outboxMaxBytes?: number;
}

/**
 * The default outbox directories of a service: keyed by the broker (the installation) and the
 * host, and numbered so two replicas never share one (see Outbox.openFirstFree).
 */
export function defaultOutboxBase(service: string, natsUrl: string): string {
  const installation = createHash('sha256').update(natsUrl).digest('hex').slice(0, 12);
  return join(tmpdir(), 'scriptorium-outbox', `${service}-${hostname()}-${installation}`);
}

/**
 * Creates a JetStream stream or consumer; one that exists already (made by another service,
 * or by an older version with other settings) gets the current settings instead.
 */
async function createOrUpdate(create: () => Promise<unknown>, update: () => Promise<unknown>): Promise<void> {
  await create().catch(async (error: Error) => {
    if (!/already in use|already exists/i.test(error.message)) throw error;
    await update();
  });
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());
const backoff = (failures: number) => Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** failures);

interface Outgoing {
  record: OutboxRecord;
  /** The connection epoch of its pending send, if any. */
  sentIn?: number;
}

/**
 * The distributed bus over NATS, JSON-encoded: core subjects, plus JetStream for the
 * `DURABLE_SUBJECTS`. A durable event is journaled in the outbox (on disk) before it is
 * sent, and sent again until JetStream acknowledges it, with the event id as JetStream's
 * message id so a resend after a lost acknowledgement is dropped as a duplicate; only then
 * does it leave the outbox. Its queue subscribers are durable consumers (one per queue and
 * subject, shared by the replicas) that acknowledge an event only when its handler's promise
 * resolves, so an event survives its consumer being down or crashing mid-way (handlers are
 * idempotent: events can come twice). A plain subscriber of a durable subject still gets each
 * event as it is published, without acknowledging it.
 *
 * The bus starts without the broker if it is away, and reconnects forever; on every
 * reconnect the stream is ensured (a broker that lost its store gets it back) and the
 * durable consumers bind again.
 */
export class NatsEventBus extends EventBus {
  private connection: NatsConnection | undefined;
  private js: JetStreamClient | undefined;
  private connected = false;
  private closing = false;
  /** The broker has no JetStream (it answered, but cannot store). */
  private noJetStream = false;
  /** Durable events in journal order, until acknowledged. */
  private readonly outgoing = new Map<string, Outgoing>();
  private sending = 0;
  /** Counts disconnects: a send from an earlier epoch is in doubt and goes again, in order. */
  private epoch = 0;
  private failures = 0;
  private lastCongestionLog = 0;
  private journalFailing = false;
  /** Times the bound was crossed (for the outbox state). */
  private congestions = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryAt = 0;
  private congested = false;
  private readonly congestionListeners = new Set<(congested: boolean) => void>();
  /** Bound durable consumers, by their name. */
  private readonly consumers = new Map<ConsumerMessages, string>();
  /** Work to do once connected (subscriptions made before the broker was reachable). */
  private readonly onConnect: (() => void)[] = [];
  /** The current create-or-update of the durable stream; cleared when it failed, so the next caller tries again. */
  private streamPromise: Promise<void> | undefined;
  private drained: (() => void)[] = [];
  private readonly log = rootLogger().child({ component: 'NatsEventBus' });

  private constructor(
    private readonly name: string,
    private readonly outbox: Outbox,
  ) {
    super();
    for (const record of outbox.recovered) this.outgoing.set(record.eventId, { record });
    if (outbox.recovered.length || outbox.skipped) {
      this.log.warn({ service: name, recovered: outbox.recovered.length, skipped: outbox.skipped, dir: outbox.dir }, 'durable events left unacknowledged by the previous process are sent again');
    }
    this.updateCongestion();
  }

  static async connect(url: string, name: string, options: NatsBusOptions = {}): Promise<NatsEventBus> {
    const maxBytes = options.outboxMaxBytes ?? DEFAULT_OUTBOX_MAX_BYTES;
    const outbox = options.outboxDir ? Outbox.open(options.outboxDir, { maxBytes }) : Outbox.openFirstFree(defaultOutboxBase(name, url), { maxBytes });
    const bus = new NatsEventBus(name, outbox);
    const connecting = connect({ servers: url, name, maxReconnectAttempts: -1, waitOnFirstConnect: true, reconnectTimeWait: 500 });
    const first = await Promise.race([connecting.catch(() => undefined), sleep(FIRST_CONNECT_WAIT_MS).then(() => undefined)]);
    if (first) {
      try {
        await bus.attach(first, false);
      } catch (error) {
        await first.close();
        outbox.close();
        throw new Error(`NATS at ${url} has no usable JetStream (${(error as Error).message}); start nats-server with JetStream enabled (-js)`);
      }
      return bus;
    }
    bus.log.warn({ service: name }, 'the message broker is unreachable; starting without it (durable events wait in the outbox)');
    connecting.then(
      (connection) => (bus.closing ? connection.close() : bus.attach(connection, true)),
      (error: Error) => bus.log.error({ err: error }, 'could not connect to the message broker'),
    );
    return bus;
  }

  /** Once connected: the stream first (`retry`: until JetStream answers, else the error is thrown), then the subscriptions and the outbox. */
  private async attach(connection: NatsConnection, retry: boolean) {
    this.connection = connection;
    this.js = jetstream(connection);
    for (let failures = 0; ; failures++) {
      try {
        await this.stream(true);
        break;
      } catch (error) {
        if (!retry) throw error;
        if (!this.noJetStream) this.log.error({ err: error }, 'the message broker has no usable JetStream (start nats-server with -js); retrying');
        this.noJetStream = true;
        await sleep(backoff(failures) * 5);
        if (this.closing) return;
      }
    }
    this.noJetStream = false;
    this.connected = true;
    void this.watchStatus(connection);
    for (const bind of this.onConnect.splice(0)) bind();
    this.pump();
  }

  private stream(again = false): Promise<void> {
    if (!again && this.streamPromise) return this.streamPromise;
    const attempt = this.ensureStream();
    this.streamPromise = attempt;
    attempt.catch(() => {
      if (this.streamPromise === attempt) this.streamPromise = undefined;
    });
    return attempt;
  }

  private async ensureStream() {
    const manager = await jetstreamManager(this.connection!);
    const config = {
      subjects: [...DURABLE_SUBJECTS],
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
      max_age: nanos(DURABLE_MAX_AGE_MS),
      max_bytes: DURABLE_MAX_BYTES,
      discard: DiscardPolicy.Old,
      duplicate_window: nanos(DUPLICATE_WINDOW_MS),
    };
    await createOrUpdate(
      () => manager.streams.add({ name: DURABLE_STREAM, ...config }),
      () => manager.streams.update(DURABLE_STREAM, config),
    );
  }

  /** Logs an outage once, and on the way back ensures the stream, binds the consumers again and resends at once. */
  private async watchStatus(connection: NatsConnection) {
    for await (const status of connection.status()) {
      if (status.type === 'disconnect' && this.connected) {
        this.giveUpInFlight();
        if (!this.closing) this.log.warn({ service: this.name, waiting: this.outgoing.size }, 'the message broker is unreachable; durable events wait in the outbox');
      } else if (status.type === 'reconnect') {
        if (this.connected) this.giveUpInFlight(); // its disconnect was not reported
        // A broker restarted without its store has no stream: create it before sending.
        await this.stream(true).catch((error: Error) => this.log.warn({ err: error }, 'could not ensure the durable stream after reconnecting; retrying with the sends'));
        this.connected = true;
        this.log.info({ service: this.name, waiting: this.outgoing.size }, 'the message broker is back; sending the outbox');
        void this.rebindLostConsumers();
        this.failures = 0;
        this.retryAt = 0;
        clearTimeout(this.retryTimer);
        this.retryTimer = undefined;
        this.pump();
      }
    }
  }

  /**
   * What was sent and not acknowledged may or may not have reached the broker: it all goes again
   * after the reconnect, from the oldest, so the stream keeps the publish order (a late
   * acknowledgement still counts; a resend that arrives twice is dropped by its message id).
   */
  private giveUpInFlight() {
    this.connected = false;
    this.epoch++;
    this.sending = 0;
    for (const entry of this.outgoing.values()) entry.sentIn = undefined;
  }

  publish<S extends EventSubject>(subject: S, body: EventBody<S>): void {
    const event = envelope(body);
    const data = JSON.stringify(event);
    if (!DURABLE_SUBJECTS.includes(subject)) {
      // A notification whose state lives in a database: lost while the broker is away, by design.
      if (this.connected) this.connection!.publish(subject, data);
      return;
    }
    const record = { eventId: event.eventId, subject, payload: data };
    try {
      this.outbox.append(record);
    } catch (error) {
      // The disk refused (full, gone): the event is still sent, but would not outlive this process.
      if (!this.journalFailing) this.log.error({ service: this.name, err: error, dir: this.outbox.dir }, 'the outbox cannot be written; durable events are kept in memory only');
      this.journalFailing = true;
    }
    this.outgoing.set(record.eventId, { record });
    this.updateCongestion();
    this.pump();
  }

  /** Sends waiting events in journal order, up to PUBLISH_WINDOW unacknowledged at once. */
  private pump() {
    if (!this.connected || !this.js || this.sending >= PUBLISH_WINDOW || Date.now() < this.retryAt) return;
    for (const entry of this.outgoing.values()) {
      if (this.sending >= PUBLISH_WINDOW) return;
      if (entry.sentIn !== undefined) continue;
      entry.sentIn = this.epoch;
      this.sending++;
      this.send(entry);
    }
  }

  private send(entry: Outgoing) {
    const { eventId, subject, payload } = entry.record;
    const epoch = this.epoch;
    const current = () => entry.sentIn === epoch && epoch === this.epoch;
    this.js!.publish(subject, payload, { msgID: eventId, timeout: PUBLISH_TIMEOUT_MS, retries: 0 }).then(
      () => {
        if (current()) this.sending--;
        if (!this.outgoing.delete(eventId)) return;
        this.outbox.acknowledge(eventId);
        this.failures = 0;
        this.updateCongestion();
        if (!this.outgoing.size) this.drained.splice(0).forEach((resolve) => resolve());
        this.pump();
      },
      () => {
        if (!current()) return; // already given up at a disconnect
        this.sending--;
        entry.sentIn = undefined;
        // Later events wait too (order per subject), then go again after a capped backoff.
        if (!this.retryTimer) {
          const delay = backoff(this.failures++);
          this.retryAt = Date.now() + delay;
          this.retryTimer = setTimeout(() => {
            this.retryTimer = undefined;
            this.retryAt = 0;
            // The failure may be a stream that is gone (no responders): ensure it before sending again.
            if (!this.connected) return;
            void this.stream().catch(() => undefined).finally(() => this.pump());
          }, delay);
          this.retryTimer.unref();
        }
      },
    );
  }

  private updateCongestion() {
    const bytes = this.outbox.bytes;
    const congested = this.congested ? bytes > this.outbox.maxBytes * RELIEF_RATIO : bytes > this.outbox.maxBytes;
    if (congested === this.congested) return;
    this.congested = congested;
    // Said once per episode: a producer faster than the broker crosses the bound often.
    const quiet = Date.now() - this.lastCongestionLog < 60_000;
    if (congested && !quiet) this.lastCongestionLog = Date.now();
    if (quiet) this.log.debug({ service: this.name, congested, bytes }, 'outbox congestion changed');
    else if (congested) this.log.warn({ service: this.name, bytes, maxBytes: this.outbox.maxBytes, waiting: this.outgoing.size }, 'outbox full: output of running scripts is paused');
    else this.log.info({ service: this.name, bytes, waiting: this.outgoing.size }, 'outbox drained: output of running scripts resumes');
    this.congestions += congested ? 1 : 0;
    for (const listener of this.congestionListeners) listener(congested);
  }

  onCongestion(listener: (congested: boolean) => void): () => void {
    this.congestionListeners.add(listener);
    if (this.congested) listener(true);
    return () => this.congestionListeners.delete(listener);
  }

  /** Durable events not acknowledged yet, and whether they are beyond the outbox's bound. */
  outboxState(): { waiting: number; bytes: number; congested: boolean; congestions: number } {
    return { waiting: this.outgoing.size, bytes: this.outbox.bytes, congested: this.congested, congestions: this.congestions };
  }

  subscribe<S extends EventSubject>(subject: S, handler: EventHandler<S>, options: SubscribeOptions = {}): () => void {
    if (options.queue && DURABLE_SUBJECTS.includes(subject)) return this.consume(subject, handler, options.queue);
    let unsubscribe = () => {};
    let stopped = false;
    const bind = () => {
      if (stopped) return;
      // Core subscriptions are made again by the client itself after a reconnect.
      const subscription = this.connection!.subscribe(subject, {
        queue: options.queue,
        callback: (error, message) => {
          if (error) return logHandlerError(subject, error);
          void handle(subject, handler as LocalSubscription['handler'], message.json());
        },
      });
      unsubscribe = () => subscription.unsubscribe();
    };
    if (this.connection && this.connected) bind();
    else this.onConnect.push(bind);
    return () => {
      stopped = true;
      unsubscribe();
    };
  }

  /**
   * A durable consumer for a queue: each event acknowledged once handled, redelivered when its
   * handler fails. The consumer is created (again) and bound at every (re)connect.
   */
  private consume<S extends EventSubject>(subject: S, handler: EventHandler<S>, queue: string): () => void {
    const durable = `${queue}-${subject}`.replace(/[^A-Za-z0-9_-]/g, '_');
    let messages: ConsumerMessages | undefined;
    let stopped = false;
    const run = async () => {
      for (let failures = 0; !stopped && !this.closing; ) {
        try {
          await this.stream();
          const manager = await this.js!.jetstreamManager();
          const settings = { ack_wait: nanos(DURABLE_ACK_WAIT_MS), max_ack_pending: 10_000 };
          await createOrUpdate(
            () => manager.consumers.add(DURABLE_STREAM, { durable_name: durable, filter_subject: subject, ack_policy: AckPolicy.Explicit, ...settings }),
            () => manager.consumers.update(DURABLE_STREAM, durable, settings),
          );
          const consumer = await this.js!.consumers.get(DURABLE_STREAM, durable);
          messages = await consumer.consume({ max_messages: 1000 });
          this.consumers.set(messages, durable);
          if (stopped) return void messages.stop();
          failures = 0;
          void this.watchConsumer(messages);
          for await (const message of messages) {
            let event: EventMap[S];
            try {
              event = message.json<EventMap[S]>();
            } catch (error) {
              logHandlerError(subject, error);
              message.term(); // not an event: never redeliver it
              continue;
            }
            void handle(subject, handler as LocalSubscription['handler'], event).then((handled) => (handled ? message.ack() : message.nak(1000)));
          }
        } catch (error) {
          if (failures === 0 && !this.closing) this.log.warn({ subject, queue, err: error }, 'durable consumer not bound; retrying');
          failures++;
        } finally {
          if (messages) this.consumers.delete(messages);
          messages = undefined;
        }
        if (!stopped && !this.closing) await sleep(backoff(failures));
      }
    };
    const start = () => void run().catch((error) => this.log.error({ subject, queue, err: error }, 'durable consumer failed'));
    if (this.connection && this.connected) start();
    else this.onConnect.push(start);
    return () => {
      stopped = true;
      messages?.stop();
    };
  }

  /**
   * After a reconnect the client pulls again by itself; a consumer the broker lost (its store
   * is gone) ends its iteration, and the consume loop creates it again. A consumer still there
   * keeps its iteration, so events already delivered to this process are not given up.
   */
  private async rebindLostConsumers() {
    const manager = await this.js!.jetstreamManager().catch(() => undefined);
    for (const [messages, durable] of this.consumers) {
      await manager?.consumers.info(DURABLE_STREAM, durable).catch(() => messages.stop());
    }
  }

  /** A consumer or stream that vanished (the broker lost its store) ends the iteration: the loop re-creates it. */
  private async watchConsumer(messages: ConsumerMessages) {
    for await (const status of messages.status()) {
      if (status.type === 'consumer_not_found' || status.type === 'consumer_deleted' || status.type === 'stream_not_found') return messages.stop();
    }
  }

  isHealthy(): boolean {
    return this.connected && !this.noJetStream;
  }

  problem(): string | undefined {
    if (this.noJetStream) return 'message broker has no JetStream';
    if (this.congested) return `outbox full: output of running scripts is paused (${this.outgoing.size} events waiting)`;
    if (!this.connected) return `message broker unreachable, ${this.outgoing.size} events waiting`;
    return undefined;
  }

  /** Resolves once every durable event is acknowledged, or false at the deadline (they stay in the outbox). */
  async flush(deadlineMs = 10_000): Promise<boolean> {
    if (this.connected) await this.connection!.flush().catch(() => undefined);
    if (!this.outgoing.size) return true;
    const drained = new Promise<boolean>((resolve) => this.drained.push(() => resolve(true)));
    return Promise.race([drained, sleep(deadlineMs).then(() => false)]);
  }

  /** Drains the outbox within the deadline; what is left stays on disk for the next start. */
  async close(deadlineMs = 10_000): Promise<void> {
    if (this.closing) return;
    if (this.connected && !(await this.flush(deadlineMs))) {
      this.log.warn({ service: this.name, waiting: this.outgoing.size }, 'durable events not acknowledged at shutdown stay in the outbox for the next start');
    }
    this.closing = true;
    clearTimeout(this.retryTimer);
    for (const messages of this.consumers.keys()) messages.stop();
    if (this.connection && !this.connection.isClosed()) await (this.connected ? this.connection.drain() : this.connection.close()).catch(() => undefined);
    this.outbox.close();
  }
}
