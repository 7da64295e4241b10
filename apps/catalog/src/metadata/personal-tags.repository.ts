import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';

/** catalog.personal_tags: the tags each user puts on scripts for themselves. */
@Injectable()
export class PersonalTagsRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /** Replaces the user's tags on a script. */
  async replace(userId: string, scriptId: string, tags: string[]): Promise<void> {
    await this.db.query(
      `WITH dropped AS (
         DELETE FROM catalog.personal_tags WHERE user_id = $1 AND script_id = $2 AND NOT (tag = ANY($3::text[]))
       )
       INSERT INTO catalog.personal_tags (user_id, script_id, tag, created_at)
       SELECT $1, $2, t, now() FROM unnest($3::text[]) AS t
       ON CONFLICT DO NOTHING`,
      [userId, scriptId, tags],
    );
  }

  async of(userId: string, scriptId: string): Promise<string[]> {
    const rows: { tag: string }[] = await this.db.query(
      'SELECT tag FROM catalog.personal_tags WHERE user_id = $1 AND script_id = $2 ORDER BY tag',
      [userId, scriptId],
    );
    return rows.map((r) => r.tag);
  }

  /** All of a user's tags, by script. */
  async byScript(userId: string): Promise<Map<string, string[]>> {
    const rows: { script_id: string; tag: string }[] = await this.db.query(
      'SELECT script_id, tag FROM catalog.personal_tags WHERE user_id = $1 ORDER BY script_id, tag',
      [userId],
    );
    const result = new Map<string, string[]>();
    for (const r of rows) result.set(r.script_id, [...(result.get(r.script_id) ?? []), r.tag]);
    return result;
  }
}
