import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import { CoreV1Api, KubeConfig, Log, type V1Pod } from '@kubernetes/client-node';
import { isUuid } from '#common/ids.js';
import { rootLogger } from '#common/logger.js';
import type { ExecutionConfig } from '../../execution.config.js';
import type { LaunchSpec } from '../launch-spec.js';
import { ScriptRuntime, type RunExit, type RunHandle, type RunObserver, type ResumedRun, type RunRecovery, type SessionEndpoint, type StopReason } from '../script-runtime.js';
import { LogFollower, type LogCursor } from './log-follower.js';
import {
  buildRunObjects,
  buildSessionService,
  CONTAINER,
  INSTANCE_ANNOTATION,
  LABELS,
  MANAGED_SELECTOR,
  ownedByPod,
  podNameFor,
  sessionServiceAddress,
  type PodManifestOptions,
} from './pod-manifest.js';
import { PodWatch, type PodEvent } from './pod-watch.js';

export interface KubernetesRuntimeOptions extends PodManifestOptions {
  /** Finished pods are deleted this long after they end; 0 = as soon as their log has been read. */
  finishedPodRetentionSeconds: number;
  /** The shared pod watch is re-opened from its resourceVersion this often. */
  watchRestartSeconds: number;
  /** How long a clean end of the log stream waits for the watch to confirm the container ended before resuming. */
  logSettleMs?: number;
  /** Extra time after `timeoutSeconds` before the runtime deletes a pod itself (e.g. one that never got scheduled, where activeDeadlineSeconds never starts counting). */
  deadlineMarginSeconds?: number;
  /** The port an interactive script listens on in its pod (SESSION_PORT); the session's Service exposes it. */
  sessionPort?: number;
}

/** What the test helpers call the observer of a pod's run (its optional `logCursor` resumes the output exactly after a restart). */
export type KubernetesRunObserver = RunObserver;

/** Each replica writes its heartbeat this often… */
const HEARTBEAT_MS = 10_000;

/** What `listActive()` reports about a script pod. */
export interface ScriptPodInfo {
  podName: string;
  executionId: string;
  /** INSTANCE_ID of the execution-service replica that started it. */
  instanceId: string;
  phase: string;
  /** The container ended (the pod may still exist because of the retention). */
  finished: boolean;
  createdAt?: Date;
  finishedAt?: Date;
}

const FATAL_WAITING = new Set([
  'ImagePullBackOff',
  'ErrImageNeverPull',
  'InvalidImageName',
  'CreateContainerConfigError',
  'CreateContainerError',
  'RunContainerError',
]);
const SIGNALS: Record<number, string> = { 1: 'SIGHUP', 2: 'SIGINT', 6: 'SIGABRT', 9: 'SIGKILL', 15: 'SIGTERM' };

function isFinished(pod: V1Pod): boolean {
  const phase = pod.status?.phase;
  return phase === 'Succeeded' || phase === 'Failed';
}

function containerOf(pod: V1Pod) {
  return pod.status?.containerStatuses?.find((c) => c.name === CONTAINER);
}

function finishedAt(pod: V1Pod): Date | undefined {
  const t = containerOf(pod)?.state?.terminated?.finishedAt;
  if (t) return new Date(t);
  const ready = pod.status?.conditions?.find((c) => c.type === 'Ready')?.lastTransitionTime;
  return isFinished(pod) && ready ? new Date(ready) : undefined;
}

/**
 * Runs each script as one Kubernetes Pod (see pod-manifest.ts for its shape).
 *
 * - State comes from one shared watch of all script pods (pod-watch.ts), never from polling.
 * - Output comes from the pod log API, followed and resumed without loss or duplicates
 *   (log-follower.ts). The log API merges stdout and stderr, so everything is reported as
 *   stdout: a Kubernetes run has no separate stderr.
 * - Cancel deletes the pod with the grace period; the timeout is the pod's
 *   activeDeadlineSeconds (reason DeadlineExceeded → stoppedFor 'timeout').
 * - The script travels in a ConfigMap (a Secret when the run has secret environment)
 *   created right after the pod and owned by it: Kubernetes deletes it with the pod, and
 *   the pod waits for it because its volume is not optional.
 * - After a restart, `listActive()` and `reattach()` pick up the pods by label.
 * - Finished pods are deleted after FINISHED_POD_RETENTION_SECONDS; pods nobody re-attached
 *   are collected from the watch's own events (no sweep loop).
 *
 * API calls per run: create pod, create ConfigMap/Secret, one log follow (more only when
 * the stream closes early), delete pod. Shared by all runs: one list and one open watch.
 */
@Injectable()
export class KubernetesRuntime extends ScriptRuntime implements OnModuleDestroy {
  readonly core: CoreV1Api;
  readonly watch: PodWatch;
  private readonly logApi: Log;
  private readonly tracked = new Map<string, PodRun>();
  private readonly orphanTimers = new Map<string, NodeJS.Timeout>();
  /** Pods a caller is about to re-attach: the orphan collector leaves them alone. */
  private readonly expected = new Set<string>();
  /** Pods a delete was sent for (with its grace period), until the watch reports them gone. */
  private readonly deleting = new Map<string, number>();
  readonly log = rootLogger().child({ service: 'execution', component: 'KubernetesRuntime' });
  private readonly pending = new Set<Promise<unknown>>();

  readonly runsSurviveRestart = true;
  private recovered = false;
  private beating = false;
  private heartbeatTimer?: NodeJS.Timeout;
  private closed = false;

  static fromConfig(config: ExecutionConfig, sessionPort: number): KubernetesRuntime {
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromDefault();
    if (config.KUBE_CONTEXT) kubeConfig.setCurrentContext(config.KUBE_CONTEXT);
    return new KubernetesRuntime(kubeConfig, {
      namespace: config.SCRIPT_NAMESPACE,
      defaultImage: config.SCRIPT_IMAGE,
      dataRoot: config.DATA_DIR,
      dataPvc: config.DATA_PVC || undefined,
      resources: {
        cpuRequest: config.SCRIPT_CPU_REQUEST,
        cpuLimit: config.SCRIPT_CPU_LIMIT,
        memoryRequest: config.SCRIPT_MEMORY_REQUEST,
        memoryLimit: config.SCRIPT_MEMORY_LIMIT,
        ephemeralStorageLimit: config.SCRIPT_EPHEMERAL_STORAGE_LIMIT,
      },
      terminationGraceSeconds: config.CANCEL_GRACE_SECONDS,
      instanceId: config.INSTANCE_ID,
      finishedPodRetentionSeconds: config.FINISHED_POD_RETENTION_SECONDS,
      watchRestartSeconds: config.POD_WATCH_RESTART_SECONDS,
      sessionPort,
    });
  }

  constructor(
    readonly kubeConfig: KubeConfig,
    readonly options: KubernetesRuntimeOptions,
  ) {
    super();
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    this.logApi = new Log(kubeConfig);
    this.watch = new PodWatch(kubeConfig, this.core, {
      namespace: options.namespace,
      labelSelector: MANAGED_SELECTOR,
      restartSeconds: options.watchRestartSeconds,
      log: this.log,
    });
    this.watch.onEveryPod((event, pod) => this.considerOrphan(event, pod));
  }

  /**
   * Nothing to hold: the kubelet keeps a pod's log whether or not it is read, so a script's
   * output is never lost here, and the pod is not slowed (its log grows on the node instead).
   */
  holdOutput(_hold: boolean): void {}

  start(spec: LaunchSpec, observer: RunObserver): RunHandle {
    const run = new PodRun(this, podNameFor(spec.executionId), observer, spec.timeoutSeconds);
    this.tracked.set(run.podName, run);
    void run.launch(spec);
    return run.handle;
  }

  /** Every pod has its own network namespace: the fixed session port, behind the session's own Service. */
  async sessionEndpoint(executionId: string): Promise<SessionEndpoint> {
    const port = this.options.sessionPort;
    if (!port) throw new Error('the kubernetes runtime was configured without a session port (SESSION_PORT)');
    return { port, upstream: sessionServiceAddress(executionId, this.options.namespace, port), bindAllInterfaces: true };
  }

  // ------------------------------------------------------------------ after a restart: re-attach and adopt

  /**
   * Pods outlive the service: at start-up this replica re-attaches its own runs still
   * `starting`/`running`, and every replica adopts the runs of replicas that are dead (no
   * heartbeat for a while; see RunRecovery.adoptRunsOfDeadReplicas), so each run gets exactly
   * one new owner. Output resumes from the run's stored log cursor, so no line is lost or
   * doubled. New runs are claimed only once the old ones are followed again: while the API
   * server is unreachable the service starts, runs wait queued, and recovery retries in the
   * background with a growing pause.
   */
  async recover(recovery: RunRecovery): Promise<void> {
    await recovery.heartbeat();
    this.heartbeatTimer = setInterval(() => void this.beat(recovery), HEARTBEAT_MS);
    this.heartbeatTimer.unref();
    if (!(await this.recoverOnce(recovery, 0))) void this.retryRecovery(recovery);
  }

  private async retryRecovery(recovery: RunRecovery) {
    for (let attempt = 1; !this.closed; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(30_000, 1000 * 2 ** attempt)).unref());
      if (this.closed || (await this.recoverOnce(recovery, attempt))) return;
    }
  }

  /** One recovery attempt; on success new runs may be claimed. */
  private async recoverOnce(recovery: RunRecovery, attempt: number): Promise<boolean> {
    try {
      await this.recoverPods(recovery);
      this.recovered = true;
      recovery.recovered();
      return true;
    } catch (error) {
      this.log.error({ err: error, attempt }, 'could not re-attach the runs of the pods; retrying');
      return false;
    }
  }

  /**
   * Re-attaches this replica's active runs and those of dead replicas (adopted), and stops
   * running pods whose run already ended. Afterwards each heartbeat adopts again whenever
   * another replica died.
   */
  private async recoverPods(recovery: RunRecovery) {
    const own = await recovery.ownActiveRuns();
    const adopted = await recovery.adoptRunsOfDeadReplicas();
    const ids = [...own.map((r) => r.executionId), ...adopted];
    this.expect(ids);
    const pods = await this.listActive();
    await this.reattachAll(recovery, ids);
    await this.stopPodsOfEndedRuns(recovery, pods.filter((p) => !p.finished && p.instanceId === this.options.instanceId));
  }

  private async beat(recovery: RunRecovery) {
    if (this.beating) return;
    this.beating = true;
    try {
      await recovery.heartbeat();
      // Runs this replica follows that another replica adopted (this one was taken for dead): let go.
      for (const id of await recovery.releaseRunsAdoptedElsewhere()) {
        this.detach(id);
        this.log.warn({ executionId: id }, 'run adopted by another replica; stopped following it');
      }
      if (!this.recovered) return;
      const adopted = await recovery.adoptRunsOfDeadReplicas();
      if (adopted.length) {
        this.expect(adopted);
        await this.reattachAll(recovery, adopted);
      }
    } catch (error) {
      this.log.warn({ err: error }, 'heartbeat or adoption failed');
    } finally {
      this.beating = false;
    }
  }

  private async reattachAll(recovery: RunRecovery, ids: string[]) {
    try {
      for (const id of ids) {
        const run = await recovery.resume(id);
        if (run) await this.resume(recovery, id, run);
      }
    } finally {
      this.unexpect(ids);
    }
  }

  /** Follows an existing pod again, from the run's stored log cursor; `lost` when the pod is gone. */
  private async resume(recovery: RunRecovery, executionId: string, run: ResumedRun) {
    const elapsed = run.startedAt ? (Date.now() - run.startedAt.getTime()) / 1000 : 0;
    let handle: RunHandle | null;
    try {
      handle = await this.reattach(executionId, run.observer, run.logCursor, Math.max(1, Math.ceil(run.timeoutSeconds - elapsed)));
    } catch (error) {
      this.log.error({ err: error, executionId }, 'could not re-attach a run');
      return;
    }
    if (handle) {
      run.attach(handle);
      this.log.info({ executionId, afterSequence: run.afterSequence }, 're-attached a run to its pod');
      return;
    }
    const pod = run.runtimeRef ?? podNameFor(executionId);
    await recovery.lost(
      executionId,
      run.state === 'starting' && !run.runtimeRef
        ? `the execution service stopped before pod ${pod} was running, and the pod does not exist`
        : `pod ${pod} was gone when the execution service re-attached after a restart (deleted while no service followed it); the run's end is unknown`,
    );
  }

  /** Running pods this replica started whose run already ended (e.g. marked lost): deleted. */
  private async stopPodsOfEndedRuns(recovery: RunRecovery, pods: ScriptPodInfo[]) {
    const ids = pods.map((p) => p.executionId).filter((id) => isUuid(id));
    if (!ids.length) return;
    for (const id of await recovery.endedRuns(ids)) {
      this.log.warn({ executionId: id }, 'deleting the pod of a run that already ended');
      await this.deletePod(podNameFor(id), 0);
    }
  }

  /**
   * Script pods found by label (this replica's and every other's), for re-attaching after a
   * restart. Waits for the shared watch's first list, so it costs no extra API call.
   */
  async listActive(): Promise<ScriptPodInfo[]> {
    await this.watch.ensureStarted();
    return this.watch.all().map((pod) => ({
      podName: pod.metadata!.name!,
      executionId: pod.metadata?.annotations?.['scriptorium.io/execution-id'] ?? pod.metadata?.labels?.[LABELS.executionId] ?? '',
      instanceId: pod.metadata?.annotations?.[INSTANCE_ANNOTATION] ?? '',
      phase: pod.status?.phase ?? 'Unknown',
      finished: isFinished(pod),
      createdAt: pod.metadata?.creationTimestamp ? new Date(pod.metadata.creationTimestamp) : undefined,
      finishedAt: finishedAt(pod),
    }));
  }

  /**
   * Picks up the pod of a run started before a restart (or by a replica that died): reports
   * its output from `cursor` on (from the start without one) and its end, exactly as for a
   * run started here. Resolves to null when the run has no pod any more (the caller marks
   * the run lost). `started()` is reported again when the pod is running or ended.
   */
  async reattach(executionId: string, observer: RunObserver, cursor?: LogCursor, timeoutSeconds?: number): Promise<RunHandle | null> {
    await this.watch.ensureStarted();
    const podName = podNameFor(executionId);
    this.expected.delete(podName);
    const existing = this.tracked.get(podName);
    if (existing) return existing.handle;
    const pod = this.watch.get(podName);
    if (!pod) return null;
    this.cancelOrphanTimer(podName);
    const active = Number(pod.spec?.activeDeadlineSeconds ?? 0);
    const run = new PodRun(this, podName, observer, timeoutSeconds ?? (active || 24 * 3600), cursor);
    this.tracked.set(podName, run);
    run.adopt(pod);
    return run.handle;
  }

  /**
   * Announces runs about to be re-attached (call before `listActive()`), so the orphan
   * collector does not delete their finished pods first (with a retention of 0 it would
   * at once). `reattach()` clears the mark; `unexpect()` clears what was not re-attached.
   */
  expect(executionIds: string[]) {
    for (const id of executionIds) this.expected.add(podNameFor(id));
  }

  unexpect(executionIds: string[]) {
    for (const id of executionIds) {
      const name = podNameFor(id);
      if (!this.expected.delete(name)) continue;
      const pod = this.watch.get(name);
      if (pod) this.considerOrphan('MODIFIED', pod);
    }
  }

  /** Stops following a run without touching its pod (another replica took it over). */
  override detach(executionId: string) {
    const run = this.tracked.get(podNameFor(executionId));
    if (!run) return;
    run.detach();
    this.tracked.delete(run.podName);
  }

  /**
   * Deletes finished script pods older than the retention that no run here follows
   * (a one-off sweep; the watch already schedules this for every finished pod it sees).
   */
  async collectOrphans(now = Date.now()): Promise<number> {
    await this.watch.ensureStarted();
    let deleted = 0;
    for (const pod of this.watch.all()) {
      const name = pod.metadata!.name!;
      if (this.tracked.has(name) || this.expected.has(name) || !isFinished(pod)) continue;
      const ended = finishedAt(pod)?.getTime() ?? now;
      if (now - ended < this.options.finishedPodRetentionSeconds * 1000) continue;
      if (await this.deletePod(name, 0)) deleted++;
    }
    return deleted;
  }

  onModuleDestroy() {
    return this.close();
  }

  /**
   * Stops the watch, log follows and timers, and waits for API calls under way (pod deletes).
   * Running pods are left alone: after a restart `reattach()` picks them up again.
   */
  async close() {
    this.closed = true;
    clearInterval(this.heartbeatTimer);
    this.watch.stop();
    for (const run of this.tracked.values()) run.detach();
    this.tracked.clear();
    for (const timer of this.orphanTimers.values()) clearTimeout(timer);
    this.orphanTimers.clear();
    await Promise.allSettled([...this.pending]);
  }

  // ---------------------------------------------------------------- for PodRun

  /** @internal */
  followLogs(podName: string, sink: ConstructorParameters<typeof LogFollower>[1], cursor?: LogCursor): LogFollower {
    const follower = new LogFollower(
      { log: this.logApi, namespace: this.options.namespace, pod: podName, container: CONTAINER, settleMs: this.options.logSettleMs },
      sink,
      cursor,
    );
    follower.start();
    return follower;
  }

  /** @internal Deletes a pod; true when it existed. */
  deletePod(name: string, gracePeriodSeconds: number): Promise<boolean> {
    // A pod's end is seen by its run and by the watch: one delete is enough, unless this one is more urgent.
    const sent = this.deleting.get(name);
    if (sent !== undefined && sent <= gracePeriodSeconds) return Promise.resolve(true);
    this.deleting.set(name, gracePeriodSeconds);
    const call = this.sendDelete(name, gracePeriodSeconds);
    this.pending.add(call);
    void call.finally(() => this.pending.delete(call));
    return call;
  }

  private async sendDelete(name: string, gracePeriodSeconds: number): Promise<boolean> {
    try {
      await this.core.deleteNamespacedPod({ name, namespace: this.options.namespace, gracePeriodSeconds });
      return true;
    } catch (error) {
      this.deleting.delete(name);
      if ((error as { code?: number }).code === 404) return false;
      this.log.warn({ err: error, pod: name }, 'could not delete a script pod');
      return false;
    }
  }

  /** @internal */
  untrack(run: PodRun) {
    if (this.tracked.get(run.podName) === run) this.tracked.delete(run.podName);
  }

  /** @internal A finished pod is deleted after the retention. */
  scheduleDeletion(podName: string, endedAt: Date | undefined) {
    this.cancelOrphanTimer(podName);
    const retentionMs = this.options.finishedPodRetentionSeconds * 1000;
    const due = (endedAt?.getTime() ?? Date.now()) + retentionMs - Date.now();
    if (due <= 0) {
      void this.deletePod(podName, 0);
      return;
    }
    const timer = setTimeout(() => {
      this.orphanTimers.delete(podName);
      if (this.expected.has(podName)) return;
      if (!this.tracked.has(podName) || this.tracked.get(podName)!.isOver) void this.deletePod(podName, 0);
    }, due);
    timer.unref();
    this.orphanTimers.set(podName, timer);
  }

  private cancelOrphanTimer(podName: string) {
    clearTimeout(this.orphanTimers.get(podName));
    this.orphanTimers.delete(podName);
  }

  /** Finished pods nobody follows (their run ended before a restart, or a dead replica's): deleted after the retention. */
  private considerOrphan(event: PodEvent, pod: V1Pod) {
    const name = pod.metadata?.name;
    if (!name) return;
    if (event === 'DELETED') {
      this.deleting.delete(name);
      return this.cancelOrphanTimer(name);
    }
    if (this.tracked.has(name) || this.expected.has(name) || this.orphanTimers.has(name) || this.deleting.has(name) || !isFinished(pod) || pod.metadata?.deletionTimestamp) return;
    this.scheduleDeletion(name, finishedAt(pod));
  }
}

/** One run's pod: launch, state from the shared watch, log follow, stop and cleanup. */
class PodRun {
  readonly handle: RunHandle;
  private stoppedFor?: StopReason;
  /** Ends the pause before retrying a create (the run was stopped meanwhile). */
  private wake?: () => void;
  private created = false;
  private startedReported = false;
  private over = false;
  private deleted = false;
  private deleteSent = false;
  private terminal?: V1Pod;
  private follower?: LogFollower;
  private unsubscribe?: () => void;
  private deadline?: NodeJS.Timeout;
  private graceSeconds = 0;

  constructor(
    private readonly runtime: KubernetesRuntime,
    readonly podName: string,
    private readonly observer: RunObserver,
    timeoutSeconds: number,
    private readonly cursor?: LogCursor,
  ) {
    this.handle = { stop: (reason, grace) => this.stop(reason, grace) };
    // activeDeadlineSeconds counts from the pod's start on a node: a pod that is never
    // scheduled would wait forever. This one timer (no polling) catches that case.
    const margin = runtime.options.deadlineMarginSeconds ?? 60;
    this.deadline = setTimeout(() => this.stop('timeout', runtime.options.terminationGraceSeconds), (timeoutSeconds + margin) * 1000);
    this.deadline.unref();
  }

  get isOver() {
    return this.over;
  }

  async launch(spec: LaunchSpec) {
    const { options, core } = this.runtime;
    let objects;
    try {
      objects = buildRunObjects(spec, options);
      await this.runtime.watch.ensureStarted();
    } catch (error) {
      return this.failed(`cannot start the pod: ${describe(error)}`);
    }
    this.unsubscribe = this.runtime.watch.subscribe(this.podName, (event, pod) => this.onPod(event, pod));
    let pod: V1Pod | undefined;
    try {
      pod = await this.untilAdmitted(() => core.createNamespacedPod({ namespace: options.namespace, body: objects.pod }));
    } catch (error) {
      return this.failed(`cannot create pod ${this.podName} in namespace ${options.namespace}: ${describe(error)}`);
    }
    // Stopped while waiting for the API server to admit the pod: no pod exists, the run ends here.
    if (!pod) return this.endedBeforeCreated();
    this.created = true;
    // Stopped while the pod was being created: delete it before its script exists, so it can never run.
    if (this.stoppedFor) return this.finishLaunch();
    try {
      const { payload } = objects;
      // A ConfigMap quota refuses the script's payload as a pod quota refuses the pod: the pod waits for it.
      const stored = await this.untilAdmitted(() =>
        payload.kind === 'Secret'
          ? core.createNamespacedSecret({ namespace: options.namespace, body: ownedByPod(payload.body, pod) })
          : core.createNamespacedConfigMap({ namespace: options.namespace, body: ownedByPod(payload.body, pod) }),
      );
      if (!stored) return this.finishLaunch();
    } catch (error) {
      await this.runtime.deletePod(this.podName, 0);
      return this.failed(`cannot create the script's ${objects.payload.kind} for pod ${this.podName}: ${describe(error)}`);
    }
    const service = buildSessionService(spec, options);
    if (service) {
      try {
        await core.createNamespacedService({ namespace: options.namespace, body: ownedByPod(service, pod) });
      } catch (error) {
        await this.runtime.deletePod(this.podName, 0);
        return this.failed(`cannot create the session Service for pod ${this.podName}: ${describe(error)}`);
      }
    }
    this.finishLaunch();
  }

  /**
   * Runs `create` until the API server admits it: an answer that says "later" (429 or 5xx, as
   * an overloaded API server sends them, or 403 "exceeded quota" while finished pods hold the
   * namespace's ResourceQuota) is retried after its Retry-After or a growing pause, up to 30 s,
   * and the run waits meanwhile (its timeout still counts). Undefined when the run was stopped
   * while waiting; any other refusal is thrown.
   */
  private async untilAdmitted<T>(create: () => Promise<T>): Promise<T | undefined> {
    for (let attempt = 0; ; attempt++) {
      if (this.stoppedFor) return undefined;
      try {
        return await create();
      } catch (error) {
        const pause = retryPauseMs(error, attempt);
        if (pause === undefined) throw error;
        this.runtime.log.warn({ pod: this.podName, attempt, pauseMs: pause, reason: describe(error) }, 'the API server did not admit the pod yet; retrying');
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, pause);
          timer.unref();
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.wake = undefined;
      }
    }
  }

  /** A run stopped before its pod existed: it ends as stopped, with no exit code. */
  private endedBeforeCreated() {
    if (this.over) return;
    this.over = true;
    clearTimeout(this.deadline);
    this.unsubscribe?.();
    this.runtime.untrack(this);
    this.observer.exited({ exitCode: null, signal: null, stoppedFor: this.stoppedFor });
  }

  private finishLaunch() {
    if (this.stoppedFor && !this.over) void this.sendDelete();
    // Events that arrived before the subscription (none with a fresh pod, but cheap to check).
    const known = this.runtime.watch.get(this.podName);
    if (known) this.onPod('MODIFIED', known);
  }

  /** Takes over an existing pod (reattach). */
  adopt(pod: V1Pod) {
    this.created = true;
    this.unsubscribe = this.runtime.watch.subscribe(this.podName, (event, p) => this.onPod(event, p));
    this.onPod('MODIFIED', pod);
  }

  /** Forgets the run without touching the pod (shutdown). */
  detach() {
    this.over = true;
    clearTimeout(this.deadline);
    this.unsubscribe?.();
    this.follower?.stop();
  }

  private stop(reason: StopReason, graceSeconds: number) {
    if (this.over || this.stoppedFor || this.terminal) return;
    this.stoppedFor = reason;
    this.graceSeconds = graceSeconds;
    if (this.created) void this.sendDelete();
    else this.wake?.();
  }

  private async sendDelete() {
    if (this.deleteSent) return;
    this.deleteSent = true;
    await this.runtime.deletePod(this.podName, this.graceSeconds);
  }

  private failed(message: string) {
    if (this.over) return;
    this.over = true;
    clearTimeout(this.deadline);
    this.unsubscribe?.();
    this.runtime.untrack(this);
    this.observer.failedToStart(message);
  }

  private onPod(event: PodEvent, pod: V1Pod) {
    if (this.over) return;
    const status = containerOf(pod);
    const state = status?.state;
    if (event === 'DELETED') this.deleted = true;

    if (!this.startedReported && (state?.running || state?.terminated)) {
      this.startedReported = true;
      this.observer.started(this.podName);
      this.follower = this.runtime.followLogs(
        this.podName,
        {
          data: (text) => this.observer.stdout(text),
          cursor: (cursor) => this.observer.logCursor?.(cursor),
          ended: () => this.maybeFinish(),
        },
        this.cursor,
      );
    }

    const waiting = state?.waiting;
    if (!this.startedReported && waiting?.reason && FATAL_WAITING.has(waiting.reason) && !this.stoppedFor) {
      void this.runtime.deletePod(this.podName, 0);
      this.deleteSent = true;
      return this.failed(`pod ${this.podName} cannot start: ${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}`);
    }

    if (!this.terminal && (isFinished(pod) || state?.terminated || event === 'DELETED')) {
      this.terminal = pod;
      this.follower?.containerEnded();
      // A pod deleted before its container ran has no log to wait for.
      if (this.deleted && !state?.running && !state?.terminated) this.follower?.stop();
    } else if (this.terminal && (state?.terminated || isFinished(pod))) {
      this.terminal = pod; // a later status with more detail (exit code, reason)
    }
    if (this.deleted) this.follower?.containerEnded();
    this.maybeFinish();
  }

  private maybeFinish() {
    if (this.over || !this.terminal) return;
    if (this.follower && !this.follower.finished) return;
    this.over = true;
    clearTimeout(this.deadline);
    this.unsubscribe?.();
    const pod = this.terminal;
    const terminated = containerOf(pod)?.state?.terminated;
    const stoppedFor: StopReason | undefined =
      this.stoppedFor ?? (pod.status?.reason === 'DeadlineExceeded' ? 'timeout' : undefined);
    const exit: RunExit = {
      exitCode: terminated ? terminated.exitCode : null,
      signal: terminated?.signal ? (SIGNALS[terminated.signal] ?? String(terminated.signal)) : null,
    };
    if (stoppedFor) exit.stoppedFor = stoppedFor;
    if (!terminated && !stoppedFor && this.deleted) exit.signal = 'SIGKILL'; // deleted by someone else before it ended
    this.runtime.untrack(this);
    this.observer.exited(exit);
    if (this.deleted || this.deleteSent) return;
    if (this.runtime.options.finishedPodRetentionSeconds === 0) {
      this.deleteSent = true;
      void this.runtime.deletePod(this.podName, 0);
    } else {
      this.runtime.scheduleDeletion(this.podName, finishedAt(pod));
    }
  }
}

/** How long to wait before retrying a create the API server answered with `error`; undefined when it is not worth retrying. */
function retryPauseMs(error: unknown, attempt: number): number | undefined {
  const e = error as { code?: number; body?: unknown; headers?: Record<string, string> };
  const quota = e?.code === 403 && /exceeded quota/.test(typeof e.body === 'string' ? e.body : JSON.stringify(e.body ?? ''));
  if (!(e?.code === 429 || (e?.code !== undefined && e.code >= 500 && e.code < 600) || quota)) return undefined;
  const retryAfter = Number(e.headers?.['retry-after'] ?? e.headers?.['Retry-After']);
  return Number.isFinite(retryAfter) && retryAfter > 0 ? Math.min(30_000, retryAfter * 1000) : Math.min(30_000, 500 * 2 ** attempt);
}

function describe(error: unknown): string {
  const e = error as { code?: number; body?: unknown; message?: string };
  if (e?.code && e.body) {
    try {
      const body = typeof e.body === 'string' ? JSON.parse(e.body) : e.body;
      if (body?.message) return `${body.message} (HTTP ${e.code})`;
    } catch {
      // fall through
    }
  }
  return e?.message ?? String(error);
}
