import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { Observable } from 'rxjs';
import { isTerminal } from '#contracts/execution-states.js';
import { Subjects } from '#contracts/subjects.js';
import type { Caller } from '#common/auth.js';
import { EventBus } from '#common/bus.js';
import { isUuid } from '#common/ids.js';
import { failedPrecondition, idempotencyKeyReused, invalidArgument, notFound, permissionDenied, tooManyRequests } from '#common/errors.js';
import { CatalogClient } from '../catalog/catalog.client.js';
import type { ExecutionConfig } from '../execution.config.js';
import { launchArguments, SECRET_MASK } from '../parameters/launch-arguments.js';
import { ParameterValidator } from '../parameters/parameter-validator.js';
import { RunProjects } from '../projects/projects.port.js';
import type { ExecutionRecord, StateTransitionRow } from './execution.entity.js';
import { ExecutionRepository } from './execution.repository.js';
import { RunControlService } from './run-control.service.js';
import { RunDispatcher } from './run-dispatcher.service.js';
import { RunStateStore } from './run-state.store.js';
import { requestFingerprint, type PreparedRun, type RunSubmission } from './runs.port.js';
import { SessionOpener } from './sessions.port.js';

export interface RunRequest {
  scriptId: string;
  parametersJson: string;
  projectId: string;
  idempotencyKey: string;
  language: string;
  rerunOf?: string;
}

export interface RunPage {
  runs: ExecutionRecord[];
  nextPageToken: string;
}

/** A run watch that heard no change for this long reads the run again (a missed `run.updated`). */
const WATCH_IDLE_READ_MS = 3000;

@Injectable()
export class RunsService implements RunSubmission {
  private readonly validator = new ParameterValidator();

  constructor(
    private readonly runs: ExecutionRepository,
    @Inject('SERVICE_CONFIG') private readonly config: ExecutionConfig,
    private readonly catalog: CatalogClient,
    private readonly dispatcher: RunDispatcher,
    private readonly state: RunStateStore,
    private readonly bus: EventBus,
    private readonly projects: RunProjects,
    private readonly sessions: SessionOpener,
    private readonly control: RunControlService,
  ) {}

  /** Validates and stores a run (queued) and wakes the dispatcher. A repeated idempotency key returns the first run. */
  async submit(caller: Caller, request: RunRequest): Promise<ExecutionRecord> {
    const idempotencyKey = request.idempotencyKey.trim() || null;
    if (idempotencyKey && idempotencyKey.length > 200) throw invalidArgument('Idempotency key must be at most 200 characters');
    // A repeat is compared with its first request below, once secrets can be masked; it skips the limits.
    const earlier = idempotencyKey ? await this.runs.findByIdempotencyKey(caller.userId, idempotencyKey) : null;
    const language = request.language || caller.language;
    let parameters: Record<string, unknown>;
    try {
      parameters = request.parametersJson.trim() ? JSON.parse(request.parametersJson) : {};
    } catch {
      throw invalidArgument('parameters must be a JSON object, e.g. {"name": "Ada"}');
    }
    if (typeof parameters !== 'object' || parameters === null || Array.isArray(parameters)) {
      throw invalidArgument('parameters must be a JSON object, e.g. {"name": "Ada"}');
    }
    // Independent: ask the catalog while the limits are checked.
    const [script] = await Promise.all([this.catalog.getScript(request.scriptId, language, caller.authorization), earlier ? undefined : this.checkSubmissionLimits(caller)]);
    if (!script.valid) throw failedPrecondition(`Script ${script.id} cannot run: ${script.error}`);
    const problems = this.validator.validate(script.parametersSchemaJson, parameters, language);
    if (Object.keys(problems).length) {
      const list = Object.entries(problems).map(([field, message]) => `${field} ${message}`).join('; ');
      throw invalidArgument(`Invalid parameters: ${list}`, problems);
    }
    const launch = launchArguments(script.parametersSchemaJson, parameters);
    // Secrets are masked: a secret's hash is never stored, and a retry need not repeat it exactly.
    const fingerprint = requestFingerprint({ scriptId: script.id, parameters: launch.masked, projectId: request.projectId, rerunOf: request.rerunOf ?? null });
    if (earlier) return this.sameRequest(earlier, fingerprint);
    const project = await this.projects.resolveForRun(caller, script.groupId, request.projectId);
    return this.enqueue(caller, {
      scriptId: script.id,
      scriptName: script.name,
      groupId: script.groupId,
      project,
      interpreter: script.runtime!.interpreter,
      scriptPath: script.runtime!.path,
      scriptSource: script.runtime!.source,
      image: script.runtime!.image || undefined,
      args: launch.args,
      env: launch.env,
      parameters: launch.masked,
      language,
      timeoutSeconds: script.timeoutSeconds > 0 ? script.timeoutSeconds : this.config.DEFAULT_TIMEOUT_SECONDS,
      idempotencyKey,
      idempotencyFingerprint: fingerprint,
      rerunOf: request.rerunOf ?? null,
      interactive: script.interactive,
    });
  }

  /** Submits a run whose launch is decided by the caller of this method (a code session): same idempotency, limits and queue. */
  async submitPrepared(caller: Caller, prepared: PreparedRun): Promise<ExecutionRecord> {
    if (prepared.idempotencyKey) {
      if (prepared.idempotencyKey.length > 200) throw invalidArgument('Idempotency key must be at most 200 characters');
      const earlier = await this.repeatOf(caller, prepared.idempotencyKey, prepared.idempotencyFingerprint ?? null);
      if (earlier) return earlier;
    }
    await this.checkSubmissionLimits(caller);
    return this.enqueue(caller, prepared);
  }

  /** Stores the run queued in its project's data directory, with the standard arguments, and wakes the dispatcher. */
  private async enqueue(caller: Caller, p: PreparedRun): Promise<ExecutionRecord> {
    const { idempotencyKey, project } = p;
    const workingDir = this.projects.dataDir(project);
    const id = randomUUID();
    const session = p.interactive ? await this.sessions.open(caller, { executionId: id, scriptId: p.scriptId, scriptName: p.scriptName }) : undefined;
    const standard = [
      '--data-dir', workingDir,
      '--user-level', caller.level,
      '--port', String(session?.launch.port ?? 0),
      '--project-id', project.id,
      '--project-name', project.name,
      '--theme', caller.theme,
      '--language', p.language,
    ];
    const record = this.runs.build({
      id,
      scriptId: p.scriptId,
      scriptName: p.scriptName,
      groupId: p.groupId,
      userId: caller.userId,
      username: caller.username,
      userLevel: caller.level,
      state: 'queued',
      parameters: p.parameters,
      idempotencyKey,
      idempotencyFingerprint: idempotencyKey ? (p.idempotencyFingerprint ?? null) : null,
      projectId: project.id,
      projectName: project.name,
      rerunOf: p.rerunOf ?? null,
      launchSpec: {
        executionId: id,
        interpreter: p.interpreter,
        scriptPath: p.scriptPath,
        scriptSource: p.scriptSource,
        ...(p.image ? { image: p.image } : {}),
        args: [...standard, ...p.args],
        env: p.env,
        workingDir,
        timeoutSeconds: p.timeoutSeconds,
        ...(session ? { session: session.launch } : {}),
      },
    });
    // With a free slot here, the run is stored already claimed and starts at once.
    const reserved = this.dispatcher.reserveSlot();
    let created: ExecutionRecord;
    try {
      created = await this.state.create(record, reserved);
    } catch (error) {
      if (reserved) this.dispatcher.settle(undefined);
      if (session) await this.sessions.discard(session.id);
      // A concurrent submission with the same key won the insert: answer with its run.
      const { code, constraint } = error as { code?: string; constraint?: string };
      if (idempotencyKey && code === '23505' && (constraint ?? 'executions_idempotency') === 'executions_idempotency') {
        return this.sameRequest((await this.runs.findByIdempotencyKey(caller.userId, idempotencyKey))!, p.idempotencyFingerprint ?? null);
      }
      throw error;
    }
    if (reserved) this.dispatcher.settle(created);
    else this.dispatcher.kick();
    return created;
  }

  /** The caller's run started with this key, if any; refused when it was started by a different request. */
  async repeatOf(caller: Caller, idempotencyKey: string, fingerprint: string | null): Promise<ExecutionRecord | null> {
    const earlier = await this.runs.findByIdempotencyKey(caller.userId, idempotencyKey);
    return earlier && this.sameRequest(earlier, fingerprint);
  }

  private sameRequest(earlier: ExecutionRecord, fingerprint: string | null): ExecutionRecord {
    // Runs stored before fingerprints existed match any request.
    if (earlier.idempotencyFingerprint && fingerprint && earlier.idempotencyFingerprint !== fingerprint) {
      throw idempotencyKeyReused(
        `Idempotency-Key "${earlier.idempotencyKey}" was already used for another request (run ${earlier.id}, of ${earlier.scriptId}): ` +
          'a different script, parameters or project need a new key',
      );
    }
    return earlier;
  }

  activeRunOf(scriptId: string): Promise<ExecutionRecord | null> {
    return this.runs.activeRunOf(scriptId);
  }

  activeRunsOf(scriptIds: string[]): Promise<Map<string, string>> {
    return this.runs.activeRunsOf(scriptIds);
  }

  recentRunsOf(scriptId: string, limit: number): Promise<ExecutionRecord[]> {
    return this.runs.recentRunsOf(scriptId, limit);
  }

  /** Per-user submission rate and the queue's capacity; each refusal says when to try again. */
  private async checkSubmissionLimits(caller: Caller) {
    const perMinute = this.config.RUN_SUBMISSIONS_PER_MINUTE;
    const counts = await this.runs.submissionCounts(caller.userId);
    if (perMinute > 0 && counts.recent >= perMinute) {
      const retryAfter = Math.max(1, Math.ceil(60 - (Date.now() - new Date(counts.oldest!).getTime()) / 1000));
      throw tooManyRequests(`At most ${perMinute} runs a minute may be submitted; try again in ${retryAfter} s`, retryAfter);
    }
    const queued = counts.queued;
    if (queued >= this.config.MAX_QUEUED_RUNS) {
      throw tooManyRequests(`The run queue is full (${queued} runs waiting); try again shortly`, 5);
    }
  }

  /** Runs the same script again with the same parameters (secrets must be given again), linked to the original. */
  async rerun(caller: Caller, id: string, idempotencyKey: string, parametersJson: string): Promise<ExecutionRecord> {
    const original = await this.get(caller, id);
    if (original.scriptId.startsWith('code-session:')) {
      throw failedPrecondition(`A code session's run is run again from its session: POST /api/v1/code-sessions/${original.scriptId.slice('code-session:'.length)}/execute`);
    }
    let overrides: Record<string, unknown> = {};
    try {
      overrides = parametersJson.trim() ? JSON.parse(parametersJson) : {};
    } catch {
      throw invalidArgument('parameters must be a JSON object, e.g. {"token": "…"}');
    }
    const kept = Object.fromEntries(Object.entries(original.parameters).filter(([, value]) => value !== SECRET_MASK));
    return this.submit(caller, {
      scriptId: original.scriptId,
      parametersJson: JSON.stringify({ ...kept, ...overrides }),
      // An admin re-running someone else's run runs it as themselves, in their own active project.
      projectId: original.userId === caller.userId ? original.projectId : '',
      idempotencyKey,
      language: '',
      rerunOf: original.id,
    });
  }

  /** 1-based position in the queue of a queued run (0 when it is not queued). */
  async queuePosition(run: ExecutionRecord): Promise<number> {
    if (run.state !== 'queued') return 0;
    return this.runs.queuePosition(run.id);
  }

  transitions(id: string): Promise<StateTransitionRow[]> {
    return this.runs.transitions(id);
  }

  /** Every later change of the caller's runs (or everyone's, for an admin asking for all users). */
  watchAll(caller: Caller, allUsers: boolean): Observable<ExecutionRecord> {
    if (allUsers && caller.level !== 'admin') throw permissionDenied("Watching every user's runs requires level admin");
    return new Observable<ExecutionRecord>((observer) => {
      let chain: Promise<unknown> = Promise.resolve();
      return this.bus.subscribe(Subjects.runUpdated, (event) => {
        if (!allUsers && event.run.userId !== caller.userId) return;
        chain = chain
          .then(() => this.runs.find(event.run.executionId))
          .then((run) => run && run.version === event.run.version && observer.next(run), () => undefined);
      });
    });
  }

  /** A run the caller may see; someone else's run is reported missing so ids cannot be probed. */
  async get(caller: Caller, id: string): Promise<ExecutionRecord> {
    if (!isUuid(id)) throw notFound(`Execution ${id} not found`);
    const run = await this.runs.find(id);
    if (!run || (run.userId !== caller.userId && caller.level !== 'admin')) throw notFound(`Execution ${id} not found`);
    return run;
  }

  async list(caller: Caller, options: { pageSize: number; pageToken: string; scriptId: string; state: string; allUsers: boolean }): Promise<RunPage> {
    if (options.allUsers && caller.level !== 'admin') throw permissionDenied('Listing every user\'s runs requires level admin');
    const pageSize = Math.min(Math.max(options.pageSize || 50, 1), 200);
    let after: string | undefined;
    if (options.pageToken) {
      // The token is the last run of the previous page.
      after = Buffer.from(options.pageToken, 'base64url').toString();
      if (!isUuid(after)) throw invalidArgument('pageToken is not a token this service issued');
    }
    const rows = await this.runs.page(
      { userId: options.allUsers ? undefined : caller.userId, scriptId: options.scriptId, state: options.state, after },
      pageSize + 1,
    );
    const page = rows.slice(0, pageSize);
    const last = page.at(-1);
    return {
      runs: page,
      nextPageToken: rows.length > pageSize && last ? Buffer.from(last.id).toString('base64url') : '',
    };
  }

  async cancel(caller: Caller, id: string): Promise<ExecutionRecord> {
    const run = await this.get(caller, id);
    if (isTerminal(run.state)) throw failedPrecondition(`Execution ${id} already ended (${run.state})`);
    return (await this.control.cancel(id, `cancelled by ${caller.username} before it started`)) ?? this.get(caller, id);
  }

  /**
   * The run now, then each newer version until it ends; reads are chained so versions never go backwards.
   * `run.updated` is a core notification, dropped while the broker is away: a watch that heard
   * nothing for WATCH_IDLE_READ_MS reads the run again, so it still ends once the run has ended.
   */
  watch(caller: Caller, id: string): Observable<ExecutionRecord> {
    return new Observable<ExecutionRecord>((observer) => {
      let version = 0;
      let ended = false;
      let idleTimer: NodeJS.Timeout | undefined;
      const emit = (run: ExecutionRecord | null) => {
        if (!run || run.version <= version) return;
        version = run.version;
        observer.next(run);
        if (isTerminal(run.state)) {
          ended = true;
          observer.complete();
        }
      };
      const read = () => {
        chain = chain.then(() => this.runs.find(id)).then(emit, () => undefined);
        readWhenIdle();
      };
      const readWhenIdle = () => {
        clearTimeout(idleTimer);
        if (!ended) idleTimer = setTimeout(read, WATCH_IDLE_READ_MS);
      };
      let chain = this.get(caller, id).then(emit);
      chain.then(readWhenIdle, (error) => observer.error(error));
      const unsubscribe = this.bus.subscribe(Subjects.runUpdated, (event) => {
        if (event.run.executionId !== id || event.run.version <= version) return;
        read();
      });
      return () => {
        ended = true;
        clearTimeout(idleTimer);
        unsubscribe();
      };
    });
  }
}
