import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { CodeSessionRecord } from './code-session.entity.js';

/** The SQL of execution.code_sessions. */
@Injectable()
export class CodeSessionsRepository {
  constructor(@InjectRepository(CodeSessionRecord) private readonly sessions: Repository<CodeSessionRecord>) {}

  insert(fields: Partial<CodeSessionRecord>): Promise<CodeSessionRecord> {
    return this.sessions.save(this.sessions.create(fields));
  }

  find(id: string): Promise<CodeSessionRecord | null> {
    return this.sessions.findOneBy({ id });
  }

  /** The newest 500 changed, of `userId` only when given. */
  list(userId: string | undefined): Promise<CodeSessionRecord[]> {
    return this.sessions.find({ where: userId === undefined ? {} : { userId }, order: { updatedAt: 'DESC' }, take: 500 });
  }

  /** Saves `changes` as the next version when `baseVersion` is still the current one; false otherwise. */
  async updateIfVersion(id: string, baseVersion: number, changes: Partial<CodeSessionRecord>): Promise<boolean> {
    const result = await this.sessions
      .createQueryBuilder()
      .update()
      .set({ ...changes, version: () => 'version + 1' })
      .where('id = :id AND version = :baseVersion', { id, baseVersion })
      .execute();
    return !!result.affected;
  }

  async delete(id: string) {
    await this.sessions.delete({ id });
  }
}
