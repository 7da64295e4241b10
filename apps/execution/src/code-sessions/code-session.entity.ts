import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';

export const CODE_LANGUAGES = ['python', 'bash', 'javascript'] as const;
export type CodeLanguage = (typeof CODE_LANGUAGES)[number];

/** Ad-hoc source a developer edits and runs; `version` grows with every save (optimistic locking). */
@Entity({ schema: 'execution', name: 'code_sessions' })
export class CodeSessionRecord {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'user_id', type: 'text' })
  userId: string;

  @Column({ type: 'text' })
  username: string;

  @Column({ type: 'text' })
  name: string;

  @Column({ type: 'text' })
  language: CodeLanguage;

  @Column({ type: 'text' })
  source: string;

  @Column({ type: 'integer', default: 1 })
  version: number;

  /** The project whose data directory runs get; null = the owner's active project of the code-sessions group. */
  @Column({ name: 'project_id', type: 'uuid', nullable: true })
  projectId: string | null;

  @Column({ name: 'timeout_seconds', type: 'integer' })
  timeoutSeconds: number;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}

/** The script id a code session's runs carry; the executions table's partial unique index keys on it. */
export const codeSessionScriptId = (sessionId: string) => `code-session:${sessionId}`;
