import { status as GrpcStatus } from '@grpc/grpc-js';
import { Inject, Injectable } from '@nestjs/common';
import { requireLevel, type Caller } from '#common/auth.js';
import { DomainError, failedPrecondition, invalidArgument, notFound, permissionDenied } from '#common/errors.js';
import { CODE_SESSIONS_GROUP, RunProjects } from '../projects/projects.port.js';
import type { ExecutionRecord } from '../runs/execution.entity.js';
import { requestFingerprint, RunSubmission } from '../runs/runs.port.js';
import { CODE_SESSION_SETTINGS, type CodeSessionSettings } from './code-sessions.config.js';
import { CodeSessionsRepository } from './code-sessions.repository.js';
import { CODE_LANGUAGES, CodeSessionRecord, codeSessionScriptId, type CodeLanguage } from './code-session.entity.js';
import { isUuid } from '#common/ids.js';

const FILE_NAMES: Record<CodeLanguage, string> = { python: 'main.py', bash: 'main.sh', javascript: 'main.mjs' };

export interface CodeSessionInput {
  name?: string;
  language?: string;
  source?: string;
  projectId?: string;
  timeoutSeconds?: number;
}

@Injectable()
export class CodeSessionsService {
  constructor(
    private readonly sessions: CodeSessionsRepository,
    @Inject(CODE_SESSION_SETTINGS) private readonly settings: CodeSessionSettings,
    private readonly projects: RunProjects,
    // Runs of code sessions go through the same run path as any run.
    private readonly runs: RunSubmission,
  ) {}

  async create(caller: Caller, input: CodeSessionInput): Promise<CodeSessionRecord> {
    requireLevel(caller, 'developer', 'Creating a code session');
    return this.sessions.insert({
      userId: caller.userId,
      username: caller.username,
      name: this.checkName(input.name ?? ''),
      language: this.checkLanguage(input.language ?? ''),
      source: this.checkSource(input.source ?? ''),
      projectId: input.projectId ? await this.checkProject(caller, input.projectId) : null,
      timeoutSeconds: this.checkTimeout(input.timeoutSeconds ?? 0),
      version: 1,
    });
  }

  /** A session the caller may see: their own, or anyone's for an admin; otherwise reported missing. */
  async get(caller: Caller, id: string): Promise<CodeSessionRecord> {
    const session = isUuid(id) ? await this.sessions.find(id) : null;
    if (!session || (session.userId !== caller.userId && caller.level !== 'admin')) throw notFound(`Code session ${id} not found`);
    return session;
  }

  private async getOwn(caller: Caller, id: string, what: string): Promise<CodeSessionRecord> {
    const session = await this.get(caller, id);
    if (session.userId !== caller.userId) throw permissionDenied(`${what} is for the code session's owner only`);
    return session;
  }

  async list(caller: Caller, allUsers: boolean): Promise<CodeSessionRecord[]> {
    if (allUsers && caller.level !== 'admin') throw permissionDenied("Listing every user's code sessions requires level admin");
    return this.sessions.list(allUsers ? undefined : caller.userId);
  }

  /** Saves a new version when `baseVersion` is still the current one; a stale save is ABORTED naming the current version. */
  async update(caller: Caller, id: string, baseVersion: number, input: CodeSessionInput): Promise<CodeSessionRecord> {
    requireLevel(caller, 'developer', 'Editing a code session');
    const session = await this.getOwn(caller, id, 'Editing');
    if (!Number.isInteger(baseVersion) || baseVersion < 1) {
      throw invalidArgument('baseVersion (the version this edit is based on) is required', { baseVersion: 'is required' });
    }
    const changes: Partial<CodeSessionRecord> = {};
    if (input.name !== undefined) changes.name = this.checkName(input.name);
    if (input.language !== undefined) changes.language = this.checkLanguage(input.language);
    if (input.source !== undefined) changes.source = this.checkSource(input.source);
    if (input.timeoutSeconds !== undefined) changes.timeoutSeconds = this.checkTimeout(input.timeoutSeconds);
    if (!(await this.sessions.updateIfVersion(session.id, baseVersion, changes))) {
      const current = await this.sessions.find(session.id);
      if (!current) throw notFound(`Code session ${id} not found`);
      throw new DomainError(
        GrpcStatus.ABORTED,
        `Code session was saved meanwhile: your edit is based on version ${baseVersion}, the current version is ${current.version}; reload it and apply your change again`,
        { baseVersion: `stale; current version is ${current.version}`, currentVersion: String(current.version) },
      );
    }
    return (await this.sessions.find(session.id))!;
  }

  async delete(caller: Caller, id: string): Promise<void> {
    const session = await this.get(caller, id);
    const active = await this.activeRun(session.id);
    if (active) throw failedPrecondition(`Code session has an active run ${active.id} (${active.state}); cancel it first`);
    await this.sessions.delete(session.id);
  }

  /** Runs the saved source as a run of the owner, in the session's project; one active run per session. */
  async execute(caller: Caller, id: string, idempotencyKey: string, expectedVersion: number): Promise<ExecutionRecord> {
    requireLevel(caller, 'developer', 'Executing a code session');
    const session = await this.getOwn(caller, id, 'Executing');
    const key = idempotencyKey.trim() || null;
    const fingerprint = requestFingerprint({ codeSessionId: session.id, expectedVersion });
    if (key) {
      const earlier = await this.runs.repeatOf(caller, key, fingerprint);
      if (earlier) return earlier;
    }
    if (expectedVersion && expectedVersion !== session.version) {
      throw new DomainError(
        GrpcStatus.ABORTED,
        `Code session is at version ${session.version}, not ${expectedVersion}; save your changes first`,
        { version: `current version is ${session.version}`, currentVersion: String(session.version) },
      );
    }
    const active = await this.activeRun(session.id);
    if (active) throw this.alreadyActive(active);
    const project = session.projectId
      ? await this.projects.resolveForRun(caller, (await this.projects.get(caller, session.projectId)).groupId, session.projectId)
      : await this.projects.activeProject(caller.userId, CODE_SESSIONS_GROUP);
    try {
      return await this.runs.submitPrepared(caller, {
        scriptId: codeSessionScriptId(session.id),
        scriptName: session.name,
        groupId: project.groupId,
        project,
        interpreter: this.settings.interpreters[session.language],
        // A path that does not exist on any machine: runtimes deliver scriptSource instead.
        scriptPath: `/nonexistent/scriptorium/code-sessions/${session.id}/${FILE_NAMES[session.language]}`,
        scriptSource: session.source,
        args: [],
        env: {},
        parameters: { codeSessionVersion: session.version, language: session.language },
        language: caller.language,
        timeoutSeconds: session.timeoutSeconds,
        idempotencyKey: key,
        idempotencyFingerprint: fingerprint,
      });
    } catch (error) {
      // Two executes at once: the partial unique index lets one run be active; the other learns which.
      const { code, constraint } = error as { code?: string; constraint?: string };
      if (code === '23505' && constraint === 'executions_code_session_active') {
        const winner = await this.activeRun(session.id);
        if (winner) throw this.alreadyActive(winner);
      }
      throw error;
    }
  }

  async history(caller: Caller, id: string, pageSize: number): Promise<ExecutionRecord[]> {
    const session = await this.get(caller, id);
    return this.runs.recentRunsOf(codeSessionScriptId(session.id), Math.min(Math.max(pageSize || 50, 1), 200));
  }

  activeRun(sessionId: string): Promise<ExecutionRecord | null> {
    return this.runs.activeRunOf(codeSessionScriptId(sessionId));
  }

  /** Active run ids of many sessions at once (for listings), by session id. */
  async activeRuns(sessionIds: string[]): Promise<Map<string, string>> {
    const byScript = await this.runs.activeRunsOf(sessionIds.map(codeSessionScriptId));
    return new Map([...byScript].map(([scriptId, runId]) => [scriptId.slice('code-session:'.length), runId]));
  }

  private alreadyActive(run: ExecutionRecord): DomainError {
    return failedPrecondition(`Code session already has an active run ${run.id} (${run.state}); wait for it to end or cancel it`);
  }

  private checkName(name: string): string {
    const clean = name.trim();
    if (!clean) throw invalidArgument('name is required', { name: 'is required' });
    if (clean.length > 100) throw invalidArgument('name must be at most 100 characters', { name: 'must be at most 100 characters' });
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f]/.test(clean)) throw invalidArgument('name must not contain control characters', { name: 'must not contain control characters' });
    return clean;
  }

  private checkLanguage(language: string): CodeLanguage {
    if (!(CODE_LANGUAGES as readonly string[]).includes(language)) {
      throw invalidArgument(`language must be one of ${CODE_LANGUAGES.join(', ')}`, { language: `must be one of ${CODE_LANGUAGES.join(', ')}` });
    }
    return language as CodeLanguage;
  }

  private checkSource(source: string): string {
    const bytes = Buffer.byteLength(source);
    if (bytes > this.settings.maxSourceBytes) {
      throw invalidArgument(`source is ${bytes} bytes; at most ${this.settings.maxSourceBytes}`, { source: `must be at most ${this.settings.maxSourceBytes} bytes` });
    }
    if (source.includes('\u0000')) throw invalidArgument('source must not contain NUL characters', { source: 'must not contain NUL characters' });
    return source;
  }

  private checkTimeout(seconds: number): number {
    if (!seconds) return this.settings.defaultTimeoutSeconds;
    if (!Number.isInteger(seconds) || seconds < 1 || seconds > this.settings.maxTimeoutSeconds) {
      throw invalidArgument(`timeoutSeconds must be between 1 and ${this.settings.maxTimeoutSeconds}`, { timeoutSeconds: `must be between 1 and ${this.settings.maxTimeoutSeconds}` });
    }
    return seconds;
  }

  /** A project of the caller's own to run in (any group). */
  private async checkProject(caller: Caller, projectId: string): Promise<string> {
    const project = await this.projects.get(caller, projectId);
    if (project.userId !== caller.userId) throw notFound(`Project ${projectId} not found`);
    return project.id;
  }
}
