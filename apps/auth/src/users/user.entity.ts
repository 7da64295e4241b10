import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import type { Language, Level, Theme } from '#contracts/levels.js';

@Entity({ schema: 'auth', name: 'users' })
export class UserRecord {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  /** Unique regardless of case (index on lower(username)); kept as typed. */
  @Column({ type: 'text' })
  username: string;

  @Column({ type: 'text', default: '' })
  email: string;

  @Column({ name: 'password_hash', type: 'text', select: false })
  passwordHash: string;

  @Column({ type: 'text' })
  level: Level;

  @Column({ type: 'text', default: 'en' })
  language: Language;

  @Column({ type: 'text', default: 'light' })
  theme: Theme;

  @Column({ type: 'boolean', default: true })
  active: boolean;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;

  /** Set when the account was deleted (anonymized); such a row is kept only for its id. */
  @Column({ name: 'deleted_at', type: 'timestamptz', nullable: true })
  deletedAt: Date | null;
}
