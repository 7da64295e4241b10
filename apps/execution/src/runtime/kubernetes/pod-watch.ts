import { Watch, type CoreV1Api, type KubeConfig, type V1Pod } from '@kubernetes/client-node';

export type PodEvent = 'ADDED' | 'MODIFIED' | 'DELETED';
export type PodListener = (event: PodEvent, pod: V1Pod) => void;

export interface PodWatchOptions {
  namespace: string;
  labelSelector: string;
  /** The server ends each watch after this long and it is re-opened from the last resourceVersion. */
  restartSeconds: number;
  log?: { warn(obj: object, msg: string): void; debug?(obj: object, msg: string): void };
}

/**
 * One shared list+watch of every script pod in the namespace (an informer, kept small):
 * a cache of the pods by name and listeners per pod name. The watch is re-opened from the
 * last resourceVersion whenever it ends: the server ends it every `restartSeconds`
 * (`timeoutSeconds`), and the client aborts it when nothing, not even a bookmark, came
 * for that long plus a margin, so a silently dead watch never goes unnoticed.
 * "410 Gone" (as an ERROR event, or as the HTTP status) re-lists and reconciles the cache.
 */
export class PodWatch {
  private readonly pods = new Map<string, V1Pod>();
  private readonly byName = new Map<string, Set<PodListener>>();
  private readonly everyPod = new Set<PodListener>();
  private resourceVersion = '';
  private starting?: Promise<void>;
  private controller?: AbortController;
  private stopped = false;
  private failures = 0;
  private retryTimer?: NodeJS.Timeout;
  private readonly watcher: Watch;
  /** Counters for tests and diagnostics. */
  readonly stats = { lists: 0, watches: 0, expired: 0, errors: 0 };

  constructor(
    kubeConfig: KubeConfig,
    private readonly core: CoreV1Api,
    private readonly options: PodWatchOptions,
  ) {
    this.watcher = new Watch(kubeConfig);
    // The client aborts a watch with no data for this long (private in the typings, public at run time).
    (this.watcher as unknown as { requestTimeoutMs: number }).requestTimeoutMs = (options.restartSeconds + 30) * 1000;
  }

  /** Lists once (so the cache is filled and the resourceVersion known), then watches from there. */
  ensureStarted(): Promise<void> {
    this.stopped = false;
    this.starting ??= this.list().then(
      () => this.watch(),
      (error) => {
        this.starting = undefined;
        throw error;
      },
    );
    return this.starting;
  }

  get(name: string): V1Pod | undefined {
    return this.pods.get(name);
  }

  all(): V1Pod[] {
    return [...this.pods.values()];
  }

  /** Listens to one pod's events; returns the unsubscribe function. */
  subscribe(name: string, listener: PodListener): () => void {
    let set = this.byName.get(name);
    if (!set) this.byName.set(name, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (!set.size && this.byName.get(name) === set) this.byName.delete(name);
    };
  }

  onEveryPod(listener: PodListener): () => void {
    this.everyPod.add(listener);
    return () => this.everyPod.delete(listener);
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.controller?.abort();
    this.controller = undefined;
    this.starting = undefined;
  }

  private emit(event: PodEvent, pod: V1Pod) {
    const name = pod.metadata?.name;
    if (!name) return;
    if (event === 'DELETED') this.pods.delete(name);
    else this.pods.set(name, pod);
    for (const listener of [...(this.byName.get(name) ?? [])]) listener(event, pod);
    for (const listener of [...this.everyPod]) listener(event, pod);
  }

  /** Lists the pods, and reconciles: new or changed pods are reported, vanished ones reported as deleted. */
  private async list() {
    this.stats.lists++;
    const list = await this.core.listNamespacedPod({ namespace: this.options.namespace, labelSelector: this.options.labelSelector });
    const seen = new Set<string>();
    for (const pod of list.items) {
      const name = pod.metadata!.name!;
      seen.add(name);
      const before = this.pods.get(name);
      if (!before) this.emit('ADDED', pod);
      else if (before.metadata?.resourceVersion !== pod.metadata?.resourceVersion) this.emit('MODIFIED', pod);
    }
    for (const [name, pod] of [...this.pods]) if (!seen.has(name)) this.emit('DELETED', pod);
    this.resourceVersion = list.metadata?.resourceVersion ?? '';
  }

  private async watch() {
    if (this.stopped) return;
    this.stats.watches++;
    let expired = false;
    let sawEvent = false;
    let closed = false;
    const controller = await this.watcher.watch(
      `/api/v1/namespaces/${encodeURIComponent(this.options.namespace)}/pods`,
      {
        labelSelector: this.options.labelSelector,
        resourceVersion: this.resourceVersion,
        allowWatchBookmarks: true,
        timeoutSeconds: this.options.restartSeconds,
      },
      (type: string, object: any) => {
        sawEvent = true;
        if (type === 'ERROR') {
          if (object?.code === 410) expired = true;
          else this.options.log?.warn({ status: object }, 'pod watch reported an error');
          return;
        }
        const rv = object?.metadata?.resourceVersion;
        if (rv) this.resourceVersion = rv;
        if (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED') this.emit(type, object as V1Pod);
      },
      (error: any) => {
        closed = true;
        this.controller = undefined;
        if (this.stopped) return;
        if (expired || error?.statusCode === 410 || error?.code === 410) {
          this.stats.expired++;
          return void this.relist();
        }
        if (error && !sawEvent && error.name !== 'TimeoutError') {
          this.stats.errors++;
          this.failures++;
          this.options.log?.warn({ err: error, failures: this.failures }, 'pod watch failed; re-opening it');
        } else {
          this.failures = 0;
        }
        this.retry(() => this.watch());
      },
    );
    if (this.stopped) controller.abort();
    else if (!closed) this.controller = controller;
  }

  private async relist() {
    try {
      await this.list();
      this.failures = 0;
      await this.watch();
    } catch (error) {
      this.stats.errors++;
      this.failures++;
      this.options.log?.warn({ err: error }, 'pod list failed; retrying');
      this.retry(() => this.relist());
    }
  }

  /** Re-opens at once after a normal end; backs off (up to 30 s) while the API server keeps failing. */
  private retry(action: () => Promise<void>) {
    clearTimeout(this.retryTimer);
    if (this.stopped) return;
    const delay = this.failures === 0 ? 0 : Math.min(30_000, 250 * 2 ** Math.min(this.failures, 7));
    this.retryTimer = setTimeout(() => {
      action().catch((error) => {
        this.stats.errors++;
        this.failures++;
        this.options.log?.warn({ err: error }, 'pod watch could not be re-opened; retrying');
        this.retry(action);
      });
    }, delay);
    this.retryTimer.unref();
  }
}
