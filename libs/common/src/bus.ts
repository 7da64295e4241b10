import { randomUUID } from 'node:crypto';
import { AckPolicy, DiscardPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType, type ConsumerMessages, type JetStreamClient } from '@nats-io/jetstream';
import { connect, nanos, type NatsConnection } from '@nats-io/transport-node';
import type { EventEnvelope, EventMap } from '#contracts/events.js';
import { DURABLE_STREAM, DURABLE_SUBJECTS } from '#contracts/subjects.js';
import { rootLogger } from './logger.js';

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
}

function envelope<S extends EventSubject>(body: EventBody<S>): EventMap[S] {
  return { eventId: randomUUID(), occurredAt: new Date().toISOString(), ...body } as EventMap[S];
}

/** Calls a handler at once; resolves true when it handled the event, false (logged) when it failed. */
function handle(subject: string, handler: (event: never) => void | Promise<void>, event: unknown): Promise<boolean> {
  const failed = (error: unknown) => {
    logHandlerError(subject, error);
    return false;
  };
  try {
    return Promise.resolve(handler(event as never)).then(() => true, failed);
  } catch (error) {
    return Promise.resolve(failed(error));
  }
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
/** Redelivery of an event whose handler neither finished nor failed (its replica died mid-way). */
const DURABLE_ACK_WAIT_MS = 10_000;

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

/**
 * The distributed bus over NATS, JSON-encoded: core subjects, plus JetStream for the
 * `DURABLE_SUBJECTS`. Those are stored in a work-queue stream before they count as
 * published, and their queue subscribers are durable consumers (one per queue and
 * subject, shared by the replicas) that acknowledge an event only when its handler's
 * promise resolves, so an event survives its consumer being down or crashing mid-way
 * (handlers are idempotent: events can come twice). A plain subscriber of a durable
 * subject still gets each event as it is published, without acknowledging it.
 */
export class NatsEventBus extends EventBus {
  private readonly consumers: ConsumerMessages[] = [];

  private constructor(
    private readonly connection: NatsConnection,
    private readonly js: JetStreamClient,
  ) {
    super();
  }

  static async connect(url: string, name: string): Promise<NatsEventBus> {
    const connection = await connect({ servers: url, name, maxReconnectAttempts: -1 });
    try {
      const manager = await jetstreamManager(connection);
      const config = {
        subjects: [...DURABLE_SUBJECTS],
        retention: RetentionPolicy.Workqueue,
        storage: StorageType.File,
        max_age: nanos(DURABLE_MAX_AGE_MS),
        max_bytes: DURABLE_MAX_BYTES,
        discard: DiscardPolicy.Old,
      };
      await createOrUpdate(
        () => manager.streams.add({ name: DURABLE_STREAM, ...config }),
        () => manager.streams.update(DURABLE_STREAM, config),
      );
    } catch (error) {
      await connection.close();
      throw new Error(`NATS at ${url} has no usable JetStream (${(error as Error).message}); start nats-server with JetStream enabled (-js)`);
    }
    return new NatsEventBus(connection, jetstream(connection));
  }

  publish<S extends EventSubject>(subject: S, body: EventBody<S>): void {
    const data = JSON.stringify(envelope(body));
    if (!DURABLE_SUBJECTS.includes(subject)) return this.connection.publish(subject, data);
    // Publishes on one connection keep their order; the acknowledgement only reports a failure.
    this.js.publish(subject, data).catch((error: Error) => rootLogger().error({ subject, err: error }, 'a durable event could not be stored in JetStream'));
  }

  subscribe<S extends EventSubject>(subject: S, handler: EventHandler<S>, options: SubscribeOptions = {}): () => void {
    if (options.queue && DURABLE_SUBJECTS.includes(subject)) return this.consume(subject, handler, options.queue);
    const subscription = this.connection.subscribe(subject, {
      queue: options.queue,
      callback: (error, message) => {
        if (error) return logHandlerError(subject, error);
        void handle(subject, handler as LocalSubscription['handler'], message.json());
      },
    });
    return () => subscription.unsubscribe();
  }

  /** A durable consumer for a queue: each event acknowledged once handled, redelivered when its handler fails. */
  private consume<S extends EventSubject>(subject: S, handler: EventHandler<S>, queue: string): () => void {
    const durable = `${queue}-${subject}`.replace(/[^A-Za-z0-9_-]/g, '_');
    let messages: ConsumerMessages | undefined;
    let stopped = false;
    const started = (async () => {
      const manager = await this.js.jetstreamManager();
      const settings = { ack_wait: nanos(DURABLE_ACK_WAIT_MS), max_ack_pending: 10_000 };
      await createOrUpdate(
        () => manager.consumers.add(DURABLE_STREAM, { durable_name: durable, filter_subject: subject, ack_policy: AckPolicy.Explicit, ...settings }),
        () => manager.consumers.update(DURABLE_STREAM, durable, settings),
      );
      const consumer = await this.js.consumers.get(DURABLE_STREAM, durable);
      messages = await consumer.consume({ max_messages: 1000 });
      this.consumers.push(messages);
      if (stopped) return void messages.stop();
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
    })();
    started.catch((error) => rootLogger().error({ subject, queue, err: error }, 'durable consumer failed'));
    return () => {
      stopped = true;
      messages?.stop();
    };
  }

  isHealthy(): boolean {
    return !this.connection.isClosed();
  }

  async flush(): Promise<void> {
    await this.connection.flush();
  }

  async close(): Promise<void> {
    for (const messages of this.consumers) messages.stop();
    if (!this.connection.isClosed()) await this.connection.drain();
  }
}
