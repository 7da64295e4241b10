import { Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { Observable, Subject } from 'rxjs';
import type { OutputLine, OutputProducedEvent } from '#contracts/events.js';
import { Subjects } from '#contracts/subjects.js';
import { EventBus } from '#common/bus.js';
import { lineBytes } from './line-batches.js';

/** Lines kept in memory per run, and for all runs together: enough to serve a tail that joins mid-flood. */
const RECENT_PER_RUN = 50_000;
const RECENT_TOTAL = 200_000;
/** The same in bytes: a line can be 256 KiB, so a count alone does not bound memory. */
const RECENT_BYTES_PER_RUN = 32 * 1024 * 1024;
const RECENT_BYTES_TOTAL = 128 * 1024 * 1024;
/** A finished run's lines stay this long, for clients that reconnect right after the end. */
const KEEP_FINISHED_MS = 30_000;

interface RecentLines {
  lines: OutputLine[];
  bytes: number;
  finishedAt?: number;
}

/**
 * Output batches as they are produced (before they are stored), per execution, for
 * the tails this replica serves, plus the most recent lines of each run in memory
 * (bounded per run and in total), so a tail that joins while lines are still on
 * their way to the store reads them from here instead of waiting.
 */
@Injectable()
export class LiveTails implements OnModuleInit, OnModuleDestroy {
  private readonly subjects = new Map<string, { subject: Subject<OutputProducedEvent>; listeners: number }>();
  private readonly recent = new Map<string, RecentLines>();
  private recentTotal = 0;
  private recentBytes = 0;
  private unsubscribe?: () => void;

  constructor(private readonly bus: EventBus) {}

  onModuleInit() {
    this.unsubscribe = this.bus.subscribe(Subjects.outputProduced, (e) => {
      this.remember(e);
      this.subjects.get(e.executionId)?.subject.next(e);
    });
  }

  /** Lines in (after, upTo] from memory, or undefined when memory no longer starts right after `after`. */
  recentLines(executionId: string, after: number, upTo: number): OutputLine[] | undefined {
    const lines = this.recent.get(executionId)?.lines;
    if (!lines?.length || lines[0].sequence > after + 1) return undefined;
    return lines.filter((l) => l.sequence > after && l.sequence <= upTo);
  }

  private remember(event: OutputProducedEvent) {
    let entry = this.recent.get(event.executionId);
    if (!entry) this.recent.set(event.executionId, (entry = { lines: [], bytes: 0 }));
    for (const line of event.lines) {
      if (line.sequence <= (entry.lines.at(-1)?.sequence ?? 0)) continue;
      entry.lines.push(line);
      this.count(entry, 1, lineBytes(line));
    }
    // The oldest lines go first, down to one line (however large).
    let drop = 0;
    let dropped = 0;
    while (entry.lines.length - drop > RECENT_PER_RUN || (entry.bytes - dropped > RECENT_BYTES_PER_RUN && drop < entry.lines.length - 1)) {
      dropped += lineBytes(entry.lines[drop++]);
    }
    if (drop) {
      entry.lines.splice(0, drop);
      this.count(entry, -drop, -dropped);
    }
    if (event.final) entry.finishedAt = Date.now();
    this.evict();
  }

  private count(entry: RecentLines, lines: number, bytes: number) {
    entry.bytes += bytes;
    this.recentTotal += lines;
    this.recentBytes += bytes;
  }

  /** Drops finished runs after a while, then the oldest runs while over the total bound. */
  private evict() {
    const now = Date.now();
    for (const [id, entry] of this.recent) {
      if (entry.finishedAt && now - entry.finishedAt > KEEP_FINISHED_MS) this.forget(id, entry);
    }
    for (const [id, entry] of this.recent) {
      if (this.recentTotal <= RECENT_TOTAL && this.recentBytes <= RECENT_BYTES_TOTAL) break;
      this.forget(id, entry);
    }
  }

  private forget(id: string, entry: RecentLines) {
    this.count(entry, -entry.lines.length, -entry.bytes);
    this.recent.delete(id);
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
