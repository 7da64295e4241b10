import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import type { AuditActionPerformedEvent } from '#contracts/events.js';
import { Subjects } from '#contracts/subjects.js';
import type { CleanupReport, DeleteLogsResponse, LogChunk, LogStatistics, RetentionPolicy, RunLog } from '#contracts/generated/scriptorium/logging/v1/logging.js';
import { lines, startLoggingUnderTest, until, type LoggingUnderTest } from '../../../../test/harness/logging-under-test.js';

/** Retention policies, cleanup (dry run and real), deletion by people, audit, and statistics. */

const failure = (promise: Promise<unknown>) => promise.then(() => undefined, (e: grpc.ServiceError) => e);
const DAY = 86_400_000;

describe('retention and statistics', { timeout: 120_000 }, () => {
  let logging: LoggingUnderTest;
  const admin = { userId: randomUUID(), level: 'admin' };
  const other = { userId: randomUUID(), level: 'operator' };
  const audits: AuditActionPerformedEvent[] = [];
  const old = randomUUID();
  const recent = [randomUUID(), randomUUID(), randomUUID()];
  const running = randomUUID();
  const theirs = randomUUID();

  const finished = async (executionId: string, createdAt: number, state: 'succeeded' | 'failed' = 'succeeded', userId?: string, scriptId = 'getting_started/greet.py') => {
    logging.run('created', { executionId, scriptId, createdAt: new Date(createdAt).toISOString(), projectId: 'p1', projectName: 'Lab', ...(userId ? { userId } : {}) });
    logging.run('updated', { executionId, scriptId, state, exitCode: state === 'succeeded' ? 0 : 1, version: 3, startedAt: new Date(createdAt).toISOString(), finishedAt: new Date(createdAt + 1000).toISOString(), ...(userId ? { userId } : {}) });
    logging.bus.publish(Subjects.outputProduced, { executionId, userId: userId ?? logging.userId, lines: lines(1, 10), final: true, finalSequence: 10 });
    await until(async () => (await logging.stream(executionId))?.complete === true, 10_000, `${executionId} stored`);
    await until(async () => (await logging.call<RunLog>('getRunLog', { executionId }, admin)).run?.state === state, 10_000, `${executionId} ${state}`);
  };

  before(async () => {
    logging = await startLoggingUnderTest({ env: { LOG_RETENTION_INTERVAL_MINUTES: '0' } });
    logging.bus.subscribe(Subjects.auditActionPerformed, (e) => void audits.push(e));
    const now = Date.now();
    await finished(old, now - 40 * DAY, 'failed');
    for (const [i, id] of recent.entries()) await finished(id, now - (3 - i) * 60_000);
    await finished(theirs, now - 50 * DAY, 'succeeded', other.userId);
    logging.run('created', { executionId: running, scriptId: 'getting_started/greet.py', createdAt: new Date(now - 60 * DAY).toISOString() });
    logging.output(running, lines(1, 5));
    await until(async () => (await logging.stream(running))?.stored_through === 5, 10_000, 'running stored');
  });

  after(async () => {
    await logging?.close();
  });

  it('counts a user’s runs, success rate, durations, storage, scripts, projects and days; admins the system’s', async () => {
    const mine = await logging.call<LogStatistics>('getLogStatistics', {});
    assert.equal(mine.runs, 5);
    assert.equal(mine.succeeded, 3);
    assert.equal(mine.failed, 1);
    assert.equal(mine.successRate, 0.75);
    assert.equal(mine.totalDurationMs, 4000);
    assert.equal(mine.storedLines, 45);
    assert.ok(mine.storedBytes > 0);
    assert.deepEqual(mine.scripts.map((s) => [s.scriptId, s.runs, s.succeeded]), [['getting_started/greet.py', 5, 3]]);
    assert.deepEqual(mine.projects.map((p) => [p.projectName, p.runs]), [['Lab', 4]]);
    assert.equal(mine.runsPerDay.reduce((n, d) => n + d.runs, 0), 5);
    assert.equal((await logging.call<LogStatistics>('getLogStatistics', { allUsers: true }, admin)).users, 2);
    assert.equal((await logging.call<LogStatistics>('getLogStatistics', { userId: other.userId }, admin)).runs, 1);
    assert.equal((await failure(logging.call('getLogStatistics', { allUsers: true })))?.code, grpc.status.PERMISSION_DENIED);
  });

  it('refuses a policy that would delete everything, or has no limit, saying how to write it; only admins set policies', async () => {
    for (const [request, says] of [
      [{ scope: 'group', target: 'getting_started', keepDays: 0 }, /keepDays 0 would delete every log/],
      [{ scope: 'level', target: 'operator', maxRunsPerScript: 0 }, /maxRunsPerScript 0 would delete every log/],
      [{ scope: 'group', target: 'getting_started' }, /at least one limit/],
      [{ scope: 'user', target: 'x', keepDays: 3 }, /scope must be "level"/],
      [{ scope: 'level', target: 'boss', keepDays: 3 }, /target must be a level/],
    ] as const) {
      const error = await failure(logging.call('setRetentionPolicy', request, admin));
      assert.equal(error?.code, grpc.status.INVALID_ARGUMENT, JSON.stringify(request));
      assert.match(error!.details, says);
    }
    assert.equal((await failure(logging.call('setRetentionPolicy', { scope: 'group', target: 'getting_started', keepDays: 30 })))?.code, grpc.status.PERMISSION_DENIED);
    assert.equal((await failure(logging.call('runCleanup', { dryRun: true })))?.code, grpc.status.PERMISSION_DENIED);
  });

  it('lists in a dry run what the policies would delete, then deletes exactly that, audited; a deleted log says so', async () => {
    const days = await logging.call<RetentionPolicy>('setRetentionPolicy', { scope: 'group', target: 'getting_started', keepDays: 30 }, admin);
    assert.equal(days.keepDays, 30);
    await logging.call('setRetentionPolicy', { scope: 'group', target: 'getting_started', keepDays: 30, maxRunsPerScript: 2 }, admin);
    const dry = await logging.call<CleanupReport>('runCleanup', { dryRun: true }, admin);
    assert.equal(dry.dryRun, true);
    // The old run (days), the other user's (days), the oldest of the recent three (runs per script); never the running one.
    assert.deepEqual(new Set(dry.items.map((i) => i.executionId)), new Set([old, theirs, recent[0]]));
    assert.match(dry.items.find((i) => i.executionId === recent[0])!.reason, /keep 2 runs per script/);
    assert.equal((await logging.getLog(old)).lines.length, 10, 'a dry run deletes nothing');
    const real = await logging.call<CleanupReport>('runCleanup', { dryRun: false }, admin);
    assert.equal(real.runs, 3);
    assert.equal(real.skipped, false);
    const chunk = await logging.getLog(old);
    assert.deepEqual(chunk.lines, []);
    assert.equal(chunk.complete, true);
    assert.equal(chunk.deletion?.reason, 'retention policy');
    assert.ok((await logging.call<RunLog>('getRunLog', { executionId: old })).deletion?.deletedAt);
    assert.equal((await logging.getLog(recent[1])).lines.length, 10);
    await until(() => audits.some((a) => a.action === 'logs.retention_swept'), 5000, 'audit of the sweep');
    const swept = audits.filter((a) => a.action === 'logs.retention_swept').flatMap((a) => (a.details!.runs as { executionId: string }[]).map((r) => r.executionId));
    assert.deepEqual(new Set(swept), new Set([old, theirs, recent[0]]));
    assert.equal((await logging.call<CleanupReport>('runCleanup', { dryRun: false }, admin)).runs, 0, 'nothing is deleted twice');
  });

  it('lets a user delete their own finished runs’ logs, never a running one or someone else’s', async () => {
    assert.equal((await failure(logging.call('deleteLogs', { executionIds: [running] })))?.code, grpc.status.NOT_FOUND);
    assert.equal((await failure(logging.call('deleteLogs', { executionIds: [recent[1]] }, other)))?.code, grpc.status.NOT_FOUND);
    assert.equal((await failure(logging.call('deleteLogs', { userId: logging.userId, allFinished: true }, other)))?.code, grpc.status.PERMISSION_DENIED);
    const mine = await logging.call<DeleteLogsResponse>('deleteLogs', { executionIds: [recent[1]] });
    assert.deepEqual(mine.executionIds, [recent[1]]);
    assert.equal((await logging.getLog(recent[1])).deletion?.reason, 'deleted by its owner');
    assert.equal((await logging.getLog(running)).lines.length, 5);
    const all = await logging.call<DeleteLogsResponse>('deleteLogs', { userId: logging.userId, allFinished: true }, admin);
    assert.deepEqual(all.executionIds, [recent[2]]);
    assert.equal((await logging.getLog(recent[2])).deletion?.reason, 'deleted by an admin');
    await until(() => audits.filter((a) => a.action === 'logs.deleted').length === 2, 5000, 'audit of the deletions');
    const tail = await logging.tail(recent[2], { follow: true });
    assert.equal((tail.at(-1) as LogChunk).deletion?.reason, 'deleted by an admin');
  });
});
