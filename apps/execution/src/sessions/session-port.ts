import type { DataSource } from 'typeorm';

/** Points an open session's proxy at the loopback port its script was started on instead. */
export async function moveSessionToPort(db: DataSource, sessionId: string, port: number): Promise<void> {
  await db.query(`UPDATE execution.sessions SET upstream = $2 WHERE id = $1 AND state = 'open'`, [sessionId, `127.0.0.1:${port}`]);
}
