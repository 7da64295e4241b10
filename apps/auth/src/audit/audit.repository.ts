import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';

export type AuditOutcome = 'success' | 'failure';

/** One row of the trail as written. */
export interface AuditRow {
  id: string;
  /** RFC 3339; undefined: now. */
  occurredAt?: string;
  service: string;
  action: string;
  outcome: AuditOutcome;
  actorId: string;
  actorUsername: string;
  targetType: string;
  targetId: string;
  targetName: string;
  ip: string;
  /** A JSON object. */
  detailsJson: string;
}

/** One row as read back, with its place in the trail. */
export interface StoredAuditRow extends Required<AuditRow> {
  seq: string;
}

/** Which rows to read, newest first; every condition is optional. */
export interface AuditQuery {
  /** Only rows before this place in the trail (paging). */
  beforeSeq?: number;
  action?: string;
  actionPrefix?: string;
  actorId?: string;
  targetId?: string;
  outcome?: AuditOutcome;
  /** RFC 3339 bounds on occurred_at: since inclusive, until exclusive. */
  since?: string;
  until?: string;
  /** Lower-case text found in the actor's or target's name or the target id. */
  search?: string;
  limit: number;
}

/** auth.audit_events: the append-only audit trail; an event id is stored once. */
@Injectable()
export class AuditRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  async insert(row: AuditRow): Promise<void> {
    await this.db.query(
      `INSERT INTO auth.audit_events
         (id, occurred_at, service, action, outcome, actor_id, actor_username, target_type, target_id, target_name, ip, details)
       VALUES ($1, COALESCE($2::timestamptz, now()), $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb)
       ON CONFLICT (id) DO NOTHING`,
      [row.id, row.occurredAt ?? null, row.service, row.action, row.outcome, row.actorId, row.actorUsername, row.targetType, row.targetId, row.targetName, row.ip, row.detailsJson],
    );
  }

  async find(query: AuditQuery): Promise<StoredAuditRow[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (sql: (p: string) => string, value: unknown) => {
      if (value === undefined) return;
      params.push(value);
      where.push(sql(`$${params.length}`));
    };
    add((p) => `seq < ${p}`, query.beforeSeq);
    add((p) => `action = ${p}`, query.action);
    add((p) => `starts_with(action, ${p})`, query.actionPrefix);
    add((p) => `actor_id = ${p}`, query.actorId);
    add((p) => `target_id = ${p}`, query.targetId);
    add((p) => `outcome = ${p}`, query.outcome);
    add((p) => `occurred_at >= ${p}::timestamptz`, query.since);
    add((p) => `occurred_at < ${p}::timestamptz`, query.until);
    if (query.search) {
      const like = `%${query.search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      add((p) => `(lower(actor_username) LIKE ${p} OR lower(target_name) LIKE ${p} OR lower(target_id) LIKE ${p})`, like);
    }
    params.push(query.limit);
    const rows: {
      seq: string; id: string; occurred_at: Date; service: string; action: string; outcome: AuditOutcome; actor_id: string;
      actor_username: string; target_type: string; target_id: string; target_name: string; ip: string; details: unknown;
    }[] = await this.db.query(
      `SELECT * FROM auth.audit_events ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT $${params.length}`,
      params,
    );
    return rows.map((r) => ({
      seq: String(r.seq),
      id: r.id,
      occurredAt: new Date(r.occurred_at).toISOString(),
      service: r.service,
      action: r.action,
      outcome: r.outcome,
      actorId: r.actor_id,
      actorUsername: r.actor_username,
      targetType: r.target_type,
      targetId: r.target_id,
      targetName: r.target_name,
      ip: r.ip,
      detailsJson: JSON.stringify(r.details ?? {}),
    }));
  }
}
