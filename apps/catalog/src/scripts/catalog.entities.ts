import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import type { GroupDefinition, ScriptDefinition } from '../discovery/loader.js';

/** A script group as last discovered; one row per group folder, upserted by id. */
@Entity({ schema: 'catalog', name: 'groups' })
export class CatalogGroup {
  @PrimaryColumn({ type: 'text' })
  id: string;

  @Column({ name: 'required_level', type: 'text' })
  requiredLevel: string;

  @Column({ type: 'jsonb' })
  definition: GroupDefinition;

  /** Hash of the definition: a rescan writes only rows that changed. */
  @Column({ type: 'text' })
  hash: string;

  @Column({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}

/** A script as last discovered, with its source so runtimes need no shared file system. */
@Entity({ schema: 'catalog', name: 'scripts' })
export class CatalogScript {
  /** "<group>/<file>" */
  @PrimaryColumn({ type: 'text' })
  id: string;

  @Index()
  @Column({ name: 'group_id', type: 'text' })
  groupId: string;

  @Column({ type: 'text' })
  file: string;

  /** Effective level (the higher of group and script). */
  @Column({ name: 'required_level', type: 'text' })
  requiredLevel: string;

  @Column({ type: 'boolean' })
  valid: boolean;

  @Column({ type: 'jsonb' })
  definition: ScriptDefinition;

  @Column({ type: 'text' })
  source: string;

  @Column({ type: 'text' })
  hash: string;

  @Column({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
