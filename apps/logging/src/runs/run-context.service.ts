import { Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { RunCreatedEvent, RunUpdatedEvent } from '#contracts/events.js';
import { Subjects } from '#contracts/subjects.js';
import { EventBus } from '#common/bus.js';
import { LogStreamsRepository } from '../logs/log-streams.repository.js';
import { LogRunsRepository } from './log-runs.repository.js';
import { factsOf } from './run-context.js';

/** Runs whose state this replica stored last, so progress updates (same state) cost no write. */
const REMEMBERED_RUNS = 10_000;

/** Keeps each run's context (logging.log_runs) from execution's run events, and registers new runs' logs. */
@Injectable()
export class RunContextRecorder implements OnModuleInit, OnModuleDestroy {
  private unsubscribe: (() => void)[] = [];
  private readonly lastState = new Map<string, string>();

  constructor(
    private readonly bus: EventBus,
    private readonly runs: LogRunsRepository,
    private readonly streams: LogStreamsRepository,
  ) {}

  onModuleInit() {
    this.unsubscribe = [
      // The durable consumer that registered logs before runs had a context: one consumer per subject on the work queue.
      this.bus.subscribe(Subjects.runCreated, (e) => this.register(e), { queue: 'logging' }),
      this.bus.subscribe(Subjects.runUpdated, (e) => this.record(e), { queue: 'logging' }),
    ];
  }

  onModuleDestroy() {
    this.unsubscribe.forEach((u) => u());
  }

  /** A new run: its log gets its owner (so tails can authorize before any line) and its context. */
  private async register(event: RunCreatedEvent) {
    await this.streams.register(event.run.executionId, event.run.userId);
    await this.record(event);
  }

  private async record(event: RunCreatedEvent | RunUpdatedEvent) {
    const { run } = event;
    if (this.lastState.get(run.executionId) === run.state) return;
    await this.runs.merge(factsOf(run, event.occurredAt));
    this.lastState.delete(run.executionId);
    this.lastState.set(run.executionId, run.state);
    if (this.lastState.size > REMEMBERED_RUNS) this.lastState.delete(this.lastState.keys().next().value!);
  }
}
