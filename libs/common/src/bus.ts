import { randomUUID } from 'node:crypto';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { EventEnvelope, EventMap } from '#contracts/events.js';
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

function invoke(subject: string, handler: (event: never) => void | Promise<void>, event: unknown) {
  try {
    const result = handler(event as never);
    if (result instanceof Promise) result.catch((error) => logHandlerError(subject, error));
  } catch (error) {
    logHandlerError(subject, error);
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
      if (!subscription.queue) invoke(subject, subscription.handler, event);
      else queues.set(subscription.queue, [...(queues.get(subscription.queue) ?? []), subscription]);
    }
    for (const [queue, members] of queues) {
      const key = `${subject}|${queue}`;
      const index = (this.nextInQueue.get(key) ?? 0) % members.length;
      this.nextInQueue.set(key, index + 1);
      invoke(subject, members[index].handler, event);
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

/** The distributed bus over NATS core subjects, JSON-encoded. */
export class NatsEventBus extends EventBus {
  private constructor(private readonly connection: NatsConnection) {
    super();
  }

  static async connect(url: string, name: string): Promise<NatsEventBus> {
    const connection = await connect({ servers: url, name, maxReconnectAttempts: -1 });
    return new NatsEventBus(connection);
  }

  publish<S extends EventSubject>(subject: S, body: EventBody<S>): void {
    this.connection.publish(subject, JSON.stringify(envelope(body)));
  }

  subscribe<S extends EventSubject>(subject: S, handler: EventHandler<S>, options: SubscribeOptions = {}): () => void {
    const subscription = this.connection.subscribe(subject, {
      queue: options.queue,
      callback: (error, message) => {
        if (error) return logHandlerError(subject, error);
        invoke(subject, handler as LocalSubscription['handler'], message.json());
      },
    });
    return () => subscription.unsubscribe();
  }

  isHealthy(): boolean {
    return !this.connection.isClosed();
  }

  async flush(): Promise<void> {
    await this.connection.flush();
  }

  async close(): Promise<void> {
    if (!this.connection.isClosed()) await this.connection.drain();
  }
}
