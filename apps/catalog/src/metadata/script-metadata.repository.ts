import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import type { MetadataOverrides } from './overrides.js';

export interface StoredOverrides {
  scriptId: string;
  overrides: MetadataOverrides;
  version: number;
}

export interface MetadataVersion {
  version: number;
  action: 'edit' | 'reparse' | 'revert';
  overrides: MetadataOverrides;
  changedFields: string[];
  authorId: string;
  authorName: string;
  comment: string;
  revertedTo: number | null;
  createdAt: Date;
}

export interface NewVersion {
  scriptId: string;
  /** The version the change was computed from (0: none yet). */
  basedOn: number;
  action: MetadataVersion['action'];
  overrides: MetadataOverrides;
  changedFields: string[];
  authorId: string;
  authorName: string;
  comment: string;
  revertedTo?: number;
}

/**
 * catalog.script_metadata (each script's edits in force) with its history,
 * catalog.script_metadata_versions: one repository for both because a new version
 * must update the current row and append its history row in a single statement
 * (the all-in-one database has one shared connection and no transactions are used),
 * and only when the current version is still the one the change was based on.
 */
@Injectable()
export class ScriptMetadataRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  async allOverrides(): Promise<StoredOverrides[]> {
    const rows: { script_id: string; overrides: MetadataOverrides; version: number }[] = await this.db.query(
      'SELECT script_id, overrides, version FROM catalog.script_metadata',
    );
    return rows.map((r) => ({ scriptId: r.script_id, overrides: r.overrides, version: r.version }));
  }

  async overridesOf(ids: string[]): Promise<StoredOverrides[]> {
    if (!ids.length) return [];
    const rows: { script_id: string; overrides: MetadataOverrides; version: number }[] = await this.db.query(
      'SELECT script_id, overrides, version FROM catalog.script_metadata WHERE script_id = ANY($1)',
      [ids],
    );
    return rows.map((r) => ({ scriptId: r.script_id, overrides: r.overrides, version: r.version }));
  }

  async current(scriptId: string): Promise<StoredOverrides> {
    return (await this.overridesOf([scriptId]))[0] ?? { scriptId, overrides: {}, version: 0 };
  }

  /** Writes a new version; returns its number, or undefined when another change came first. */
  async addVersion(v: NewVersion): Promise<number | undefined> {
    const rows: { version: number }[] = await this.db.query(
      `WITH current AS (
         INSERT INTO catalog.script_metadata AS m (script_id, overrides, version, updated_by, updated_at)
         VALUES ($1, $2::jsonb, $3 + 1, $4, now())
         ON CONFLICT (script_id) DO UPDATE
           SET overrides = EXCLUDED.overrides, version = m.version + 1, updated_by = EXCLUDED.updated_by, updated_at = now()
           WHERE m.version = $3
         RETURNING version
       )
       INSERT INTO catalog.script_metadata_versions
         (script_id, version, action, overrides, changed_fields, author_id, author_name, comment, reverted_to, created_at)
       SELECT $1, version, $5, $2::jsonb, $6::jsonb, $4, $7, $8, $9, now() FROM current
       RETURNING version`,
      [v.scriptId, JSON.stringify(v.overrides), v.basedOn, v.authorId, v.action, JSON.stringify(v.changedFields), v.authorName, v.comment, v.revertedTo ?? null],
    );
    return rows[0]?.version;
  }

  async versions(scriptId: string): Promise<MetadataVersion[]> {
    const rows: Record<string, unknown>[] = await this.db.query(
      `SELECT version, action, overrides, changed_fields, author_id, author_name, comment, reverted_to, created_at
         FROM catalog.script_metadata_versions WHERE script_id = $1 ORDER BY version DESC`,
      [scriptId],
    );
    return rows.map((r) => ({
      version: Number(r.version),
      action: r.action as MetadataVersion['action'],
      overrides: r.overrides as MetadataOverrides,
      changedFields: r.changed_fields as string[],
      authorId: String(r.author_id),
      authorName: String(r.author_name),
      comment: String(r.comment),
      revertedTo: r.reverted_to === null ? null : Number(r.reverted_to),
      createdAt: new Date(r.created_at as string),
    }));
  }

  async version(scriptId: string, version: number): Promise<MetadataVersion | undefined> {
    return (await this.versions(scriptId)).find((v) => v.version === version);
  }
}
