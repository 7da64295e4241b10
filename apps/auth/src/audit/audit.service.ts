import { randomUUID } from 'node:crypto';
import { Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { AuditActionPerformedEvent } from '#contracts/events.js';
import { Subjects } from '#contracts/subjects.js';
import { EventBus } from '#common/bus.js';
import { invalidArgument } from '#common/errors.js';
import { rootLogger } from '#common/logger.js';
import { AuditRepository, type AuditOutcome, type AuditQuery, type AuditRow } from './audit.repository.js';

/** Who acted and from where; the actor is empty for an anonymous caller. */
export interface AuditActor {
  actorId?: string;
  actorUsername?: string;
  ip?: string;
}

export interface AuditEntry extends AuditActor {
  action: string;
  outcome?: AuditOutcome;
  targetType?: string;
  targetId?: string;
  targetName?: string;
  details?: Record<string, unknown>;
  service?: string;
  id?: string;
  occurredAt?: string;
}

export interface AuditFilter {
  pageSize: number;
  pageToken: string;
  action: string;
  actorId: string;
  targetId: string;
  outcome: string;
  since: string;
  until: string;
  search: string;
}

const MAX_DETAILS_CHARS = 16_384;
const clip = (value: unknown, max: number) => (typeof value === 'string' ? value.slice(0, max) : '');

/**
 * The audit trail (auth.audit_events): what auth itself does (logins, user and level
 * changes, tokens, admin actions) and what other services publish on
 * Subjects.auditActionPerformed. Recording never fails the action being recorded.
 */
@Injectable()
export class AuditService implements OnModuleInit, OnModuleDestroy {
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly trail: AuditRepository,
    private readonly bus: EventBus,
  ) {}

  onModuleInit() {
    this.unsubscribe = this.bus.subscribe(Subjects.auditActionPerformed, (event) => this.consume(event), { queue: 'auth-audit' });
  }

  onModuleDestroy() {
    this.unsubscribe?.();
  }

  /** Stores an event another service published; a redelivered event (same eventId) is ignored. */
  async consume(event: AuditActionPerformedEvent): Promise<void> {
    if (!event || typeof event.action !== 'string' || !event.action || typeof event.eventId !== 'string' || !event.eventId) {
      rootLogger().warn({ eventId: event?.eventId }, 'ignored a malformed audit event');
      return;
    }
    await this.record({
      id: clip(event.eventId, 100),
      occurredAt: typeof event.occurredAt === 'string' && !Number.isNaN(Date.parse(event.occurredAt)) ? event.occurredAt : undefined,
      service: clip(event.service, 50) || 'unknown',
      action: clip(event.action, 100),
      outcome: event.outcome === 'failure' ? 'failure' : 'success',
      actorId: clip(event.actorId, 100),
      actorUsername: clip(event.actorUsername, 100),
      targetType: clip(event.targetType, 50),
      targetId: clip(event.targetId, 300),
      targetName: clip(event.targetName, 300),
      ip: clip(event.ip, 100),
      details: event.details && typeof event.details === 'object' && !Array.isArray(event.details) ? event.details : {},
    });
  }

  /** Appends one entry. Errors are logged, never thrown: auditing must not break the action. */
  async record(entry: AuditEntry): Promise<void> {
    let details = JSON.stringify(entry.details ?? {});
    if (details.length > MAX_DETAILS_CHARS) details = JSON.stringify({ truncated: true, preview: details.slice(0, 1000) });
    try {
      await this.trail.insert({
        id: entry.id ?? randomUUID(),
        occurredAt: entry.occurredAt,
        service: entry.service ?? 'auth',
        action: entry.action,
        outcome: entry.outcome ?? 'success',
        actorId: entry.actorId ?? '',
        actorUsername: entry.actorUsername ?? '',
        targetType: entry.targetType ?? '',
        targetId: entry.targetId ?? '',
        targetName: entry.targetName ?? '',
        ip: entry.ip ?? '',
        detailsJson: details,
      });
    } catch (err) {
      rootLogger().error({ err, action: entry.action }, 'could not record an audit event');
    }
  }

  async list(filter: AuditFilter): Promise<{ events: Required<AuditRow>[]; nextPageToken: string }> {
    const size = filter.pageSize || 100;
    if (!Number.isInteger(size) || size < 1 || size > 500) throw invalidArgument('page_size must be between 1 and 500', { page_size: 'must be between 1 and 500' });
    const query: AuditQuery = { limit: size + 1 };
    if (filter.pageToken) {
      const before = Number(Buffer.from(filter.pageToken, 'base64url').toString());
      if (!Number.isSafeInteger(before) || before < 1) throw invalidArgument('Invalid page_token', { page_token: 'is not a token this service gave out' });
      query.beforeSeq = before;
    }
    if (filter.action) {
      if (filter.action.length > 100) throw invalidArgument('action must be at most 100 characters', { action: 'must be at most 100 characters' });
      if (filter.action.endsWith('.')) query.actionPrefix = filter.action;
      else query.action = filter.action;
    }
    if (filter.actorId) query.actorId = filter.actorId;
    if (filter.targetId) query.targetId = filter.targetId;
    if (filter.outcome) {
      if (filter.outcome !== 'success' && filter.outcome !== 'failure') throw invalidArgument('outcome must be success or failure', { outcome: 'must be success or failure' });
      query.outcome = filter.outcome;
    }
    for (const name of ['since', 'until'] as const) {
      const value = filter[name];
      if (!value) continue;
      if (Number.isNaN(Date.parse(value))) throw invalidArgument(`${name} must be an RFC 3339 date-time, e.g. 2025-01-31T12:00:00Z`, { [name]: 'must be an RFC 3339 date-time' });
      query[name] = new Date(value).toISOString();
    }
    const term = filter.search.trim().toLowerCase();
    if (term) query.search = term;
    const rows = await this.trail.find(query);
    const page = rows.slice(0, size);
    return {
      events: page.map(({ seq: _seq, ...event }) => event),
      nextPageToken: rows.length > size ? Buffer.from(String(page.at(-1)!.seq)).toString('base64url') : '',
    };
  }
}
