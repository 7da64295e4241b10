import { randomUUID } from 'node:crypto';
import { Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import type { AuditActionPerformedEvent } from '#contracts/events.js';
import { Subjects } from '#contracts/subjects.js';
import { EventBus } from '#common/bus.js';
import { invalidArgument } from '#common/errors.js';
import { rootLogger } from '#common/logger.js';

export type AuditOutcome = 'success' | 'failure';

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

export interface AuditRecord {
  id: string;
  occurredAt: string;
  action: string;
  outcome: AuditOutcome;
  actorId: string;
  actorUsername: string;
  targetType: string;
  targetId: string;
  targetName: string;
  ip: string;
  service: string;
  detailsJson: string;
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
    @InjectDataSource() private readonly db: DataSource,
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
      await this.db.query(
        `INSERT INTO auth.audit_events
           (id, occurred_at, service, action, outcome, actor_id, actor_username, target_type, target_id, target_name, ip, details)
         VALUES ($1, COALESCE($2::timestamptz, now()), $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb)
         ON CONFLICT (id) DO NOTHING`,
        [
          entry.id ?? randomUUID(),
          entry.occurredAt ?? null,
          entry.service ?? 'auth',
          entry.action,
          entry.outcome ?? 'success',
          entry.actorId ?? '',
          entry.actorUsername ?? '',
          entry.targetType ?? '',
          entry.targetId ?? '',
          entry.targetName ?? '',
          entry.ip ?? '',
          details,
        ],
      );
    } catch (err) {
      rootLogger().error({ err, action: entry.action }, 'could not record an audit event');
    }
  }

  async list(filter: AuditFilter): Promise<{ events: AuditRecord[]; nextPageToken: string }> {
    const size = filter.pageSize || 100;
    if (!Number.isInteger(size) || size < 1 || size > 500) throw invalidArgument('page_size must be between 1 and 500', { page_size: 'must be between 1 and 500' });
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (sql: (p: string) => string, value: unknown) => {
      params.push(value);
      where.push(sql(`$${params.length}`));
    };
    if (filter.pageToken) {
      const before = Number(Buffer.from(filter.pageToken, 'base64url').toString());
      if (!Number.isSafeInteger(before) || before < 1) throw invalidArgument('Invalid page_token', { page_token: 'is not a token this service gave out' });
      add((p) => `seq < ${p}`, before);
    }
    if (filter.action) {
      if (filter.action.length > 100) throw invalidArgument('action must be at most 100 characters', { action: 'must be at most 100 characters' });
      if (filter.action.endsWith('.')) add((p) => `starts_with(action, ${p})`, filter.action);
      else add((p) => `action = ${p}`, filter.action);
    }
    if (filter.actorId) add((p) => `actor_id = ${p}`, filter.actorId);
    if (filter.targetId) add((p) => `target_id = ${p}`, filter.targetId);
    if (filter.outcome) {
      if (filter.outcome !== 'success' && filter.outcome !== 'failure') throw invalidArgument('outcome must be success or failure', { outcome: 'must be success or failure' });
      add((p) => `outcome = ${p}`, filter.outcome);
    }
    for (const [name, op] of [['since', '>='], ['until', '<']] as const) {
      const value = filter[name];
      if (!value) continue;
      if (Number.isNaN(Date.parse(value))) throw invalidArgument(`${name} must be an RFC 3339 date-time, e.g. 2025-01-31T12:00:00Z`, { [name]: 'must be an RFC 3339 date-time' });
      add((p) => `occurred_at ${op} ${p}::timestamptz`, new Date(value).toISOString());
    }
    const term = filter.search.trim().toLowerCase();
    if (term) {
      const like = `%${term.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      add((p) => `(lower(actor_username) LIKE ${p} OR lower(target_name) LIKE ${p} OR lower(target_id) LIKE ${p})`, like);
    }
    params.push(size + 1);
    const rows: {
      seq: string; id: string; occurred_at: Date; service: string; action: string; outcome: AuditOutcome; actor_id: string;
      actor_username: string; target_type: string; target_id: string; target_name: string; ip: string; details: unknown;
    }[] = await this.db.query(
      `SELECT * FROM auth.audit_events ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT $${params.length}`,
      params,
    );
    const page = rows.slice(0, size);
    return {
      events: page.map((r) => ({
        id: r.id,
        occurredAt: new Date(r.occurred_at).toISOString(),
        action: r.action,
        outcome: r.outcome,
        actorId: r.actor_id,
        actorUsername: r.actor_username,
        targetType: r.target_type,
        targetId: r.target_id,
        targetName: r.target_name,
        ip: r.ip,
        service: r.service,
        detailsJson: JSON.stringify(r.details ?? {}),
      })),
      nextPageToken: rows.length > size ? Buffer.from(String(page.at(-1)!.seq)).toString('base64url') : '',
    };
  }
}
