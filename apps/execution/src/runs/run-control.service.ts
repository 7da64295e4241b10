import { Injectable } from '@nestjs/common';
import { Subjects } from '#contracts/subjects.js';
import { EventBus } from '#common/bus.js';
import type { ExecutionRecord } from './execution.entity.js';
import { RunDispatcher } from './run-dispatcher.service.js';
import { RunStateStore } from './run-state.store.js';
import type { RunControl } from './runs.port.js';

/** Cancels runs, for a request (RunsService) and for a session that closed (through the RunControl port). */
@Injectable()
export class RunControlService implements RunControl {
  constructor(
    private readonly state: RunStateStore,
    private readonly dispatcher: RunDispatcher,
    private readonly bus: EventBus,
  ) {}

  async cancel(executionId: string, reason: string): Promise<ExecutionRecord | undefined> {
    const dequeued = await this.state.transition(executionId, ['queued'], 'cancelled', reason, { finishedAt: new Date(), launchSpec: null }, { failFast: true });
    if (dequeued) {
      // It never started: no output.
      this.bus.publish(Subjects.outputProduced, { executionId, userId: dequeued.userId, lines: [], final: true, finalSequence: 0 });
      return dequeued;
    }
    this.dispatcher.stop(executionId, 'cancelled');
    return undefined;
  }
}
