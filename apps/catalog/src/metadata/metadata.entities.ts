import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import type { MetadataOverrides } from './overrides.js';

/**
 * The UI edits in force for a script (one row per script, kept when the script
 * disappears from the tree so a file moved back keeps its edits). Discovery
 * never writes this table.
 */
@Entity({ schema: 'catalog', name: 'script_metadata' })
export class ScriptMetadataRow {
  @PrimaryColumn({ name: 'script_id', type: 'text' })
  scriptId: string;

  @Column({ type: 'jsonb' })
  overrides: MetadataOverrides;

  @Column({ type: 'int' })
  version: number;

  @Column({ name: 'updated_by', type: 'text' })
  updatedBy: string;

  @Column({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}

/** Every change of a script's edits: who, when, what, and the overrides after it. */
@Entity({ schema: 'catalog', name: 'script_metadata_versions' })
export class ScriptMetadataVersionRow {
  @PrimaryColumn({ name: 'script_id', type: 'text' })
  scriptId: string;

  @PrimaryColumn({ type: 'int' })
  version: number;

  /** edit | reparse | revert */
  @Column({ type: 'text' })
  action: string;

  @Column({ type: 'jsonb' })
  overrides: MetadataOverrides;

  @Column({ name: 'changed_fields', type: 'jsonb' })
  changedFields: string[];

  @Column({ name: 'author_id', type: 'text' })
  authorId: string;

  @Column({ name: 'author_name', type: 'text' })
  authorName: string;

  @Column({ type: 'text' })
  comment: string;

  @Column({ name: 'reverted_to', type: 'int', nullable: true })
  revertedTo: number | null;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}

/** A user's own tag on a script; private to that user. */
@Entity({ schema: 'catalog', name: 'personal_tags' })
@Index(['userId', 'tag'])
export class PersonalTagRow {
  @PrimaryColumn({ name: 'user_id', type: 'text' })
  userId: string;

  @PrimaryColumn({ name: 'script_id', type: 'text' })
  scriptId: string;

  @PrimaryColumn({ type: 'text' })
  tag: string;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
