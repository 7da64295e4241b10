import { Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { Observable, Subject } from 'rxjs';
import type { OutputProducedEvent } from '#contracts/events.js';
import { Subjects } from '#contracts/subjects.js';
import { EventBus } from '#common/bus.js';

/** Output batches as they are produced (before they are stored), per execution, for the tails this replica serves. */
@Injectable()
export class LiveTails implements OnModuleInit, OnModuleDestroy {
  private readonly subjects = new Map<string, { subject: Subject<OutputProducedEvent>; listeners: number }>();
  private unsubscribe?: () => void;

  constructor(private readonly bus: EventBus) {}

  onModuleInit() {
    this.unsubscribe = this.bus.subscribe(Subjects.outputProduced, (e) => this.subjects.get(e.executionId)?.subject.next(e));
  }

  onModuleDestroy() {
    this.unsubscribe?.();
  }

  /** Announcements for one execution from now on; the entry goes when the last listener leaves. */
  follow(executionId: string): Observable<OutputProducedEvent> {
    return new Observable<OutputProducedEvent>((observer) => {
      let entry = this.subjects.get(executionId);
      if (!entry) {
        entry = { subject: new Subject(), listeners: 0 };
        this.subjects.set(executionId, entry);
      }
      entry.listeners++;
      const subscription = entry.subject.subscribe(observer);
      return () => {
        subscription.unsubscribe();
        if (--entry.listeners === 0) this.subjects.delete(executionId);
      };
    });
  }
}
