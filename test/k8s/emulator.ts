// An in-test emulation of the parts of the Kubernetes API that the script runtime uses,
// over real HTTP on a loopback port, faithful enough that @kubernetes/client-node cannot
// tell it from an API server. The cluster is set up from what the Helm chart renders
// (`helm template`, test/harness/helm.ts): its namespaces, ServiceAccounts, Role and
// RoleBinding, LimitRange and ResourceQuota. What it enforces (admission.ts):
//  - authentication by bearer token (each rendered ServiceAccount gets one; `executionToken`
//    is the execution service's) and RBAC from the chart's Role: anything else answers 403;
//  - Pod Security admission at the namespace's enforce level, LimitRange defaults and
//    limits, ResourceQuota (403 "exceeded quota"); objects in a namespace that does not
//    exist answer 404;
//  - core/v1 pods, configmaps, secrets, services: create / get / list (labelSelector) /
//    delete; ownerReferences cascade when the owner is deleted, asynchronously (as the
//    garbage collector does);
//  - watch (`?watch=true`, JSON lines) from a resourceVersion, with history replay,
//    `timeoutSeconds`, BOOKMARK events when asked for, and "410 Gone" (an ERROR event
//    with a Status, as the API server sends it) for resourceVersions older than the last
//    compaction;
//  - 429 and 5xx answers on demand (`failNext`), with Retry-After, as an overloaded API
//    server sends them;
//  - pods/{name}/log with follow, timestamps (RFC3339Nano, trailing zeros trimmed, as Go
//    prints them) and sinceTime (truncated to the second, as the API server passes it to
//    the kubelet);
//  - a "kubelet": a pod starts once every configMap/secret volume it mounts exists; its
//    image is known (images.ts: the script runner from docker/script-runner/Dockerfile,
//    public bases from their Dockerfiles), so the ENTRYPOINT is kept unless `command`
//    replaces it and an executable the image lacks ends the container as a real runtime
//    does (StartError, exit 128; or tini's exec failure); its container really runs (the
//    image's python3/bash/sh/node mapped to the host's, a local child process in its own
//    process group), so log and exit code are real. PID 1 semantics: unless the image's
//    init (tini) is PID 1, the script is PID 1 and a signal it has no handler for is
//    ignored (the child starts with SIGTERM/SIGINT ignored); activeDeadlineSeconds is
//    honoured (phase Failed, reason DeadlineExceeded); deleting a running pod sends
//    SIGTERM, then SIGKILL after the grace period.
// Every request is recorded (method, path, query) so tests can count API calls.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderChart } from '../harness/helm.js';
import { applyLimitRanges, podSecurityViolations, quotaRefusal, Rbac, serviceAccountUser, type RequestAttributes } from './admission.js';
import { isInit, publicImage, resolveExecutable, scriptRunnerImage, type ImageContents } from './images.js';

type Obj = Record<string, any>;
type Resource = 'pods' | 'configmaps' | 'secrets' | 'services';
const KINDS: Record<Resource, string> = { pods: 'Pod', configmaps: 'ConfigMap', secrets: 'Secret', services: 'Service' };

export interface ApiCall {
  method: string;
  path: string;
  query: Record<string, string>;
  watch: boolean;
}

interface LogRecord {
  ts: string;
  nanos: bigint;
  text: string;
}

interface Container {
  child?: ChildProcess;
  dir: string;
  records: LogRecord[];
  followers: Set<(record: LogRecord | null) => void>;
  ended: boolean;
  killTimer?: NodeJS.Timeout;
  deadlineTimer?: NodeJS.Timeout;
  deadlineExceeded: boolean;
}

interface Watcher {
  resource: Resource;
  namespace: string;
  selector: (labels: Record<string, string>) => boolean;
  res: ServerResponse;
  bookmarks: boolean;
}

interface HistoryEvent {
  rv: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  resource: Resource;
  object: Obj;
}

export interface EmulatorOptions {
  /** Host programs the images' interpreters run as. */
  python?: string;
  bash?: string;
  /** Delay between a pod's creation and its scheduling (ms). */
  scheduleDelayMs?: number;
  /** `helm template` arguments (e.g. ['--set', 'execution.resourceQuota.hard.pods=2']) of the cluster's set-up. */
  chartArgs?: string[];
  /** More images the cluster's nodes can pull, by reference. */
  images?: Record<string, ImageContents>;
  /** Delay of the garbage collector after an owner is deleted (ms). */
  gcDelayMs?: number;
  /** Interval of BOOKMARK events on watches that allow them (ms). */
  bookmarkIntervalMs?: number;
}

interface InjectedFailure {
  match: RegExp;
  code: number;
  times: number;
  retryAfterSeconds?: number;
}

const ADMIN_USER = 'kubernetes-admin';

let lastNanos = 0n;
/** Now as RFC3339Nano in UTC, strictly increasing, trailing zeros trimmed (Go's format). */
function nowTimestamp(): { ts: string; nanos: bigint } {
  let nanos = BigInt(Date.now()) * 1_000_000n + (process.hrtime.bigint() % 1_000_000n);
  if (nanos <= lastNanos) nanos = lastNanos + 1n;
  lastNanos = nanos;
  const seconds = new Date(Number(nanos / 1_000_000_000n) * 1000).toISOString().slice(0, 19);
  const fraction = (nanos % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  return { ts: `${seconds}${fraction ? `.${fraction}` : ''}Z`, nanos };
}

function isoNow() {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Parses a label selector: `a=b`, `a==b`, `a!=b`, `a`, `!a`, comma-separated (set-based forms not needed here). */
export function parseSelector(selector: string | undefined): (labels: Record<string, string>) => boolean {
  if (!selector) return () => true;
  const terms = selector.split(',').map((t) => t.trim()).filter(Boolean);
  return (labels) =>
    terms.every((term) => {
      let m = /^([^!=]+)!=(.*)$/.exec(term);
      if (m) return labels[m[1]!.trim()] !== m[2]!.trim();
      m = /^([^!=]+)==?(.*)$/.exec(term);
      if (m) return labels[m[1]!.trim()] === m[2]!.trim();
      if (term.startsWith('!')) return !(term.slice(1) in labels);
      return term in labels;
    });
}

function status(code: number, reason: string, message: string, details?: Obj): Obj {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code, ...(details ? { details } : {}) };
}

export class KubeEmulator {
  readonly calls: ApiCall[] = [];
  /** Log lines sent over all log requests (more than the container wrote when resumes overlapped). */
  logLinesSent = 0;
  private server?: Server;
  private rv = 1;
  private compactedBelow = 0;
  private readonly store: Record<Resource, Map<string, Obj>> = {
    pods: new Map(),
    configmaps: new Map(),
    secrets: new Map(),
    services: new Map(),
  };
  private readonly history: HistoryEvent[] = [];
  private readonly watchers = new Set<Watcher>();
  private readonly containers = new Map<string, Container>();
  private readonly root = mkdtempSync(join(tmpdir(), 'kube-emulator-'));
  private closeLogEarly?: { afterLines: number; how: 'end' | 'destroy' };
  private goneAsHttpStatus = false;
  private readonly failures: InjectedFailure[] = [];
  private stopped = false;
  private cluster: Obj[] = [];
  private rbac = new Rbac([]);
  private readonly tokens = new Map<string, string>();
  private readonly images = new Map<string, ImageContents>();
  url = '';
  /** Bearer token of a cluster administrator (group system:masters: RBAC does not apply), for a test acting as kubectl. */
  readonly adminToken = randomUUID();
  /** Bearer token of the execution service's ServiceAccount (the subject of the chart's RoleBinding). */
  executionToken = '';
  /** The image the chart gives script pods that name none (the execution service's SCRIPT_IMAGE). */
  scriptImage = '';

  constructor(private readonly options: EmulatorOptions = {}) {}

  async start(): Promise<string> {
    await this.setUpCluster();
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error) => {
        if (!res.headersSent) this.json(res, 500, status(500, 'InternalError', String(error?.stack ?? error)));
        else res.destroy();
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  /** Writes a kubeconfig that points at this emulator (for processes that load KUBECONFIG); returns its path. */
  writeKubeconfig(namespace: string): string {
    const path = join(this.root, 'kubeconfig');
    writeFileSync(
      path,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'emulator', cluster: { server: this.url, 'insecure-skip-tls-verify': true } }],
        users: [{ name: 'emulated', user: { token: this.executionToken } }],
        contexts: [{ name: 'emulator', context: { cluster: 'emulator', user: 'emulated', namespace } }],
        'current-context': 'emulator',
      }),
    );
    return path;
  }

  async stop() {
    this.stopped = true;
    for (const w of this.watchers) w.res.end();
    this.watchers.clear();
    for (const c of this.containers.values()) {
      clearTimeout(c.killTimer);
      clearTimeout(c.deadlineTimer);
      this.signal(c, 'SIGKILL');
      for (const f of c.followers) f(null);
    }
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    rmSync(this.root, { recursive: true, force: true });
  }

  /** Namespaces, identities and policies from the chart; the script runner image under the chart's script image name. */
  private async setUpCluster() {
    this.cluster = await renderChart(this.options.chartArgs ?? []);
    this.rbac = new Rbac(this.cluster);
    this.tokens.set(this.adminToken, ADMIN_USER);
    for (const sa of this.cluster.filter((m) => m.kind === 'ServiceAccount')) {
      this.tokens.set(randomUUID(), serviceAccountUser(sa.metadata.namespace, sa.metadata.name));
    }
    const binding = this.cluster.find((m) => m.kind === 'RoleBinding');
    const subject = binding?.subjects?.[0];
    if (subject) {
      const user = serviceAccountUser(subject.namespace, subject.name);
      this.executionToken = [...this.tokens].find(([, u]) => u === user)?.[0] ?? '';
    }
    const execution = this.cluster.find((m) => m.kind === 'Deployment' && m.metadata.name.endsWith('-execution'));
    this.scriptImage = execution?.spec.template.spec.containers[0].env.find((e: Obj) => e.name === 'SCRIPT_IMAGE')?.value ?? '';
    if (this.scriptImage) this.images.set(this.scriptImage, scriptRunnerImage());
    for (const [ref, contents] of Object.entries(this.options.images ?? {})) this.images.set(ref, contents);
  }

  private namespaceObject(name: string): Obj | undefined {
    const releaseNamespace = this.cluster.find((m) => m.kind === 'Deployment')?.metadata.namespace;
    return this.cluster.find((m) => m.kind === 'Namespace' && m.metadata.name === name) ?? (name === releaseNamespace ? { metadata: { name, labels: {} } } : undefined);
  }

  private inNamespace(kind: string, namespace: string): Obj[] {
    return this.cluster.filter((m) => m.kind === kind && m.metadata?.namespace === namespace);
  }

  private imageContents(ref: string): ImageContents | undefined {
    return this.images.get(ref) ?? publicImage(ref);
  }

  // ------------------------------------------------------------ test controls

  /** The next `times` requests whose "METHOD path" matches answer `code` (429 with Retry-After, or a 5xx). */
  failNext(match: RegExp, code: 429 | 500 | 503 | 504, times = 1, retryAfterSeconds?: number) {
    this.failures.push({ match, code, times, retryAfterSeconds: retryAfterSeconds ?? (code === 429 ? 1 : undefined) });
  }

  /** Sends a BOOKMARK (the current resourceVersion) on every open watch that allows them. */
  sendBookmarks() {
    for (const w of this.watchers) this.bookmark(w);
  }

  /** The next log follow stream ends after `afterLines` lines: cleanly ('end') or by breaking the connection ('destroy'). */
  closeNextLogStreamEarly(afterLines: number, how: 'end' | 'destroy' = 'end') {
    this.closeLogEarly = { afterLines, how };
  }

  /** Compacts the history: every open watch is closed and watches from any earlier resourceVersion get "410 Gone". */
  compact(options: { asHttpStatus?: boolean } = {}) {
    this.rv += 5; // other objects in the cluster changed meanwhile
    this.compactedBelow = this.rv;
    this.goneAsHttpStatus = !!options.asHttpStatus;
    this.history.length = 0;
    for (const w of this.watchers) w.res.end();
    this.watchers.clear();
  }

  /** Ends every open watch stream cleanly (as the API server does on its timeout). */
  closeWatches() {
    for (const w of this.watchers) w.res.end();
    this.watchers.clear();
  }

  get(resource: Resource, namespace: string, name: string): Obj | undefined {
    return this.store[resource].get(`${namespace}/${name}`);
  }

  list(resource: Resource): Obj[] {
    return [...this.store[resource].values()];
  }

  /** Calls made, optionally only those whose "METHOD path" matches. */
  count(pattern?: RegExp): number {
    return pattern ? this.calls.filter((c) => pattern.test(`${c.method} ${c.path}${c.watch ? '?watch' : ''}`)).length : this.calls.length;
  }

  openWatches(): number {
    return this.watchers.size;
  }

  // ------------------------------------------------------------ HTTP

  private json(res: ServerResponse, code: number, body: Obj) {
    const text = JSON.stringify(body);
    res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  }

  private async body(req: IncomingMessage): Promise<Obj | undefined> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    return text ? JSON.parse(text) : undefined;
  }

  private async handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://x');
    const query = Object.fromEntries(url.searchParams);
    const watch = query.watch === 'true' || query.watch === '1';
    this.calls.push({ method: req.method ?? 'GET', path: url.pathname, query, watch });
    const m = /^\/api\/v1\/namespaces\/([^/]+)\/(pods|configmaps|secrets|services)(?:\/([^/]+))?(?:\/(log|status))?$/.exec(url.pathname);
    if (!m) return this.json(res, 404, status(404, 'NotFound', `the server could not find the requested resource (${url.pathname})`));
    const [, namespace, resource, name, sub] = m as unknown as [string, string, Resource, string | undefined, string | undefined];
    const key = `${namespace}/${name}`;
    const failure = this.failures.find((f) => f.match.test(`${req.method} ${url.pathname}`));
    if (failure) {
      if (--failure.times <= 0) this.failures.splice(this.failures.indexOf(failure), 1);
      const reason = failure.code === 429 ? 'TooManyRequests' : failure.code === 504 ? 'Timeout' : failure.code === 503 ? 'ServiceUnavailable' : 'InternalError';
      const body = status(failure.code, reason, failure.code === 429 ? 'the server has received too many requests and has asked us to try again later' : 'an error on the server has prevented the request from succeeding', failure.retryAfterSeconds ? { retryAfterSeconds: failure.retryAfterSeconds } : undefined);
      if (failure.retryAfterSeconds) res.setHeader('Retry-After', String(failure.retryAfterSeconds));
      return this.json(res, failure.code, body);
    }
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const user = token ? this.tokens.get(token) : undefined;
    if (!user) return this.json(res, 401, status(401, 'Unauthorized', 'Unauthorized'));
    const verbs: Record<string, string> = { POST: 'create', PUT: 'update', PATCH: 'patch' };
    const verb = req.method === 'GET' ? (name ? 'get' : watch ? 'watch' : 'list') : req.method === 'DELETE' ? (name ? 'delete' : 'deletecollection') : (verbs[req.method ?? ''] ?? 'unknown');
    const attributes: RequestAttributes = { user, verb, namespace, resource: sub ? `${resource}/${sub}` : resource, name };
    if (user !== ADMIN_USER && !this.rbac.allows(attributes)) {
      return this.json(res, 403, status(403, 'Forbidden', Rbac.forbiddenMessage(attributes), { name, kind: resource }));
    }
    if (!this.namespaceObject(namespace)) return this.json(res, 404, status(404, 'NotFound', `namespaces "${namespace}" not found`, { name: namespace, kind: 'namespaces' }));
    if (sub === 'log') {
      if (resource !== 'pods' || req.method !== 'GET') return this.json(res, 405, status(405, 'MethodNotAllowed', 'method not allowed'));
      return this.log(res, namespace, name!, query);
    }
    if (!name) {
      if (req.method === 'GET' && watch) return this.watch(res, resource, namespace, query);
      if (req.method === 'GET') {
        const selector = parseSelector(query.labelSelector);
        const items = [...this.store[resource].values()].filter(
          (o) => o.metadata.namespace === namespace && selector(o.metadata.labels ?? {}),
        );
        return this.json(res, 200, {
          kind: `${KINDS[resource]}List`,
          apiVersion: 'v1',
          metadata: { resourceVersion: String(this.rv) },
          items,
        });
      }
      if (req.method === 'POST') return this.create(res, resource, namespace, (await this.body(req)) ?? {});
    } else {
      const existing = this.store[resource].get(key);
      if (req.method === 'GET') {
        if (!existing) return this.json(res, 404, this.notFound(resource, name));
        return this.json(res, 200, existing);
      }
      if (req.method === 'DELETE') {
        const options = (await this.body(req)) ?? {};
        if (!existing) return this.json(res, 404, this.notFound(resource, name));
        const grace = query.gracePeriodSeconds ?? options.gracePeriodSeconds;
        this.delete(resource, existing, grace === undefined ? undefined : Number(grace));
        return this.json(res, 200, this.store[resource].get(key) ?? existing);
      }
    }
    return this.json(res, 405, status(405, 'MethodNotAllowed', `${req.method} is not supported here`));
  }

  private notFound(resource: Resource, name: string) {
    return status(404, 'NotFound', `${resource} "${name}" not found`, { name, kind: resource });
  }

  // ------------------------------------------------------------ objects

  private record(type: HistoryEvent['type'], resource: Resource, object: Obj) {
    const rv = ++this.rv;
    if (type !== 'DELETED') object.metadata.resourceVersion = String(rv);
    else object = { ...object, metadata: { ...object.metadata, resourceVersion: String(rv) } };
    const snapshot = structuredClone(object);
    this.history.push({ rv, type, resource, object: snapshot });
    for (const w of this.watchers) {
      if (w.resource === resource && w.namespace === snapshot.metadata.namespace && w.selector(snapshot.metadata.labels ?? {})) {
        w.res.write(`${JSON.stringify({ type, object: snapshot })}\n`);
      }
    }
  }

  private create(res: ServerResponse, resource: Resource, namespace: string, body: Obj) {
    const name = body.metadata?.name;
    if (!name) return this.json(res, 422, status(422, 'Invalid', `${KINDS[resource]} is invalid: metadata.name: Required value`));
    if (body.kind && body.kind !== KINDS[resource]) return this.json(res, 400, status(400, 'BadRequest', `wrong kind ${body.kind}`));
    const key = `${namespace}/${name}`;
    if (this.store[resource].has(key)) {
      return this.json(res, 409, status(409, 'AlreadyExists', `${resource} "${name}" already exists`, { name, kind: resource }));
    }
    const object: Obj = structuredClone(body);
    const refused = this.admit(resource, namespace, object);
    if (refused) return this.json(res, 403, status(403, 'Forbidden', `${resource} "${name}" is forbidden: ${refused}`, { name, kind: resource }));
    object.apiVersion = 'v1';
    object.kind = KINDS[resource];
    object.metadata = { ...object.metadata, namespace, uid: randomUUID(), creationTimestamp: isoNow() };
    if (resource === 'secrets' && object.stringData) {
      object.data = { ...(object.data ?? {}) };
      for (const [k, v] of Object.entries(object.stringData)) object.data[k] = Buffer.from(String(v)).toString('base64');
      delete object.stringData;
    }
    if (resource === 'pods') {
      object.status = { phase: 'Pending', qosClass: 'Burstable' };
      object.spec.terminationGracePeriodSeconds ??= 30;
    }
    if (resource === 'services') object.spec = { type: 'ClusterIP', clusterIP: `10.96.${this.rv % 250}.${(this.rv * 7) % 250}`, ...object.spec };
    this.store[resource].set(key, object);
    this.record('ADDED', resource, object);
    this.json(res, 201, object);
    if (resource === 'pods') {
      setTimeout(() => this.schedule(key), this.options.scheduleDelayMs ?? 5);
    } else if (resource === 'configmaps' || resource === 'secrets') {
      // The kubelet retries pods waiting for this volume.
      for (const [podKey, pod] of this.store.pods) if (pod.metadata.namespace === namespace && pod.status.phase === 'Pending') this.tryStart(podKey);
    }
  }

  /** Admission as the API server runs it for a create: Pod Security, LimitRange (defaults in place), ResourceQuota. */
  private admit(resource: Resource, namespace: string, object: Obj): string | undefined {
    if (resource === 'pods') {
      const level = this.namespaceObject(namespace)?.metadata.labels?.['pod-security.kubernetes.io/enforce'] ?? 'privileged';
      const violations = podSecurityViolations(level, object);
      if (violations.length) return `violates PodSecurity "${level}:latest": ${violations.join(', ')}`;
      const limited = applyLimitRanges(this.inNamespace('LimitRange', namespace), object);
      if (limited) return limited;
    }
    const existing = Object.fromEntries(
      (Object.keys(this.store) as Resource[]).map((r) => [r, [...this.store[r].values()].filter((o) => o.metadata.namespace === namespace)]),
    );
    return quotaRefusal(this.inNamespace('ResourceQuota', namespace), resource, object, existing);
  }

  private modifyPod(key: string, change: (pod: Obj) => void) {
    const pod = this.store.pods.get(key);
    if (!pod) return;
    change(pod);
    this.record('MODIFIED', 'pods', pod);
  }

  /** Deletes an object; a running pod is terminated first (SIGTERM, SIGKILL after the grace period). */
  private delete(resource: Resource, object: Obj, grace?: number) {
    const key = `${object.metadata.namespace}/${object.metadata.name}`;
    if (resource === 'pods') {
      const container = this.containers.get(key);
      if (container?.child && !container.ended) {
        const seconds = grace ?? object.spec.terminationGracePeriodSeconds ?? 30;
        if (!object.metadata.deletionTimestamp) {
          this.modifyPod(key, (pod) => {
            pod.metadata.deletionTimestamp = isoNow();
            pod.metadata.deletionGracePeriodSeconds = seconds;
          });
        }
        this.terminate(container, seconds);
        return; // removed when the container has ended
      }
    }
    this.remove(resource, key);
  }

  private remove(resource: Resource, key: string) {
    const object = this.store[resource].get(key);
    if (!object) return;
    this.store[resource].delete(key);
    if (resource === 'pods') {
      const container = this.containers.get(key);
      if (container) {
        clearTimeout(container.deadlineTimer);
        clearTimeout(container.killTimer);
        for (const f of container.followers) f(null);
        this.containers.delete(key);
        rmSync(container.dir, { recursive: true, force: true });
      }
    }
    this.record('DELETED', resource, object);
    // Garbage collection: dependents owned by the deleted object go too, a moment later (the collector works from its own watch).
    setTimeout(() => {
      for (const r of Object.keys(this.store) as Resource[]) {
        for (const o of [...this.store[r].values()]) {
          if ((o.metadata.ownerReferences ?? []).some((ref: Obj) => ref.uid === object.metadata.uid)) this.delete(r, o);
        }
      }
    }, this.options.gcDelayMs ?? 20).unref();
  }

  // ------------------------------------------------------------ kubelet

  private schedule(key: string) {
    const pod = this.store.pods.get(key);
    if (!pod || pod.metadata.deletionTimestamp || this.stopped) return;
    this.modifyPod(key, (p) => {
      p.spec.nodeName = 'emulated-node';
      p.status = {
        ...p.status,
        phase: 'Pending',
        startTime: isoNow(),
        conditions: [{ type: 'PodScheduled', status: 'True', lastTransitionTime: isoNow() }],
        containerStatuses: p.spec.containers.map((c: Obj) => ({
          name: c.name,
          image: c.image,
          imageID: '',
          ready: false,
          restartCount: 0,
          started: false,
          state: { waiting: { reason: 'ContainerCreating' } },
        })),
      };
    });
    const started = this.store.pods.get(key);
    if (started?.spec.activeDeadlineSeconds) {
      // activeDeadlineSeconds counts from startTime, also while the pod waits for its volumes.
      const c = this.container(key);
      c.deadlineTimer = setTimeout(() => this.deadlineExceeded(key), Number(started.spec.activeDeadlineSeconds) * 1000);
    }
    this.tryStart(key);
  }

  private container(key: string): Container {
    let c = this.containers.get(key);
    if (!c) {
      c = { dir: mkdtempSync(join(this.root, 'pod-')), records: [], followers: new Set(), ended: false, deadlineExceeded: false };
      this.containers.set(key, c);
    }
    return c;
  }

  /** Starts the pod's first container once all its configMap/secret volumes exist. */
  private tryStart(key: string) {
    const pod = this.store.pods.get(key);
    if (!pod || !pod.spec.nodeName || pod.status.phase !== 'Pending' || pod.metadata.deletionTimestamp || this.stopped) return;
    const c = this.container(key);
    if (c.child || c.ended) return;
    const ns = pod.metadata.namespace;
    const mounts = new Map<string, string>();
    const files = new Map<string, { data: Record<string, string>; items?: Obj[]; decode: boolean }>();
    for (const volume of pod.spec.volumes ?? []) {
      if (volume.configMap) {
        const cm = this.store.configmaps.get(`${ns}/${volume.configMap.name}`);
        if (!cm) return; // waits: the volume is not optional
        files.set(volume.name, { data: cm.data ?? {}, items: volume.configMap.items, decode: false });
      } else if (volume.secret) {
        const secret = this.store.secrets.get(`${ns}/${volume.secret.secretName}`);
        if (!secret) return;
        files.set(volume.name, { data: secret.data ?? {}, items: volume.secret.items, decode: true });
      }
    }
    const spec = pod.spec.containers[0];
    const env: Record<string, string> = { PATH: '/usr/local/bin:/usr/bin:/bin' };
    for (const e of spec.env ?? []) {
      if (e.value !== undefined) env[e.name] = e.value;
      else if (e.valueFrom?.secretKeyRef) {
        const secret = this.store.secrets.get(`${ns}/${e.valueFrom.secretKeyRef.name}`);
        const value = secret?.data?.[e.valueFrom.secretKeyRef.key];
        if (value === undefined) return; // CreateContainerConfigError in a real cluster; here: wait
        env[e.name] = Buffer.from(value, 'base64').toString('utf8');
      }
    }
    // Lay out the container's filesystem view under a temporary folder.
    for (const mount of spec.volumeMounts ?? []) {
      const dir = join(c.dir, 'fs', mount.mountPath);
      mkdirSync(dir, { recursive: true });
      mounts.set(mount.mountPath, dir);
      const content = files.get(mount.name);
      if (!content) continue;
      const items = content.items ?? Object.keys(content.data).map((k) => ({ key: k, path: k }));
      for (const item of items) {
        const value = content.data[item.key];
        if (value === undefined) continue;
        writeFileSync(join(dir, item.path), content.decode ? Buffer.from(value, 'base64') : value);
      }
    }
    const mapPath = (value: string) => {
      for (const [mountPath, dir] of mounts) {
        if (value === mountPath || value.startsWith(`${mountPath}/`)) return dir + value.slice(mountPath.length);
      }
      return value;
    };
    for (const k of Object.keys(env)) env[k] = mapPath(env[k]!);
    const image = this.imageContents(spec.image);
    if (!image) return this.imagePullFailed(key, spec.image);
    // As a container runtime does: `command` replaces the image's ENTRYPOINT (and CMD), `args` replaces CMD.
    const argv: string[] = spec.command?.length ? [...spec.command, ...(spec.args ?? [])] : [...image.entrypoint, ...(spec.args ?? image.cmd)];
    const first = argv[0] ? resolveExecutable(image, argv[0]) : undefined;
    if (!first) return this.startFailed(key, c, `exec: "${argv[0] ?? ''}": executable file not found in $PATH`);
    let program = argv;
    let pid1 = true; // the program itself is PID 1 unless an init runs it
    let missing: string | undefined;
    if (isInit(first)) {
      const rest = argv.slice(1);
      program = rest[0] === '--' ? rest.slice(1) : rest;
      pid1 = false;
      if (!program[0] || !resolveExecutable(image, program[0])) missing = program[0] ?? '';
    } else if (first.endsWith('/docker-entrypoint.sh')) {
      program = argv.slice(1); // the node image's entrypoint execs its arguments
      if (!program[0] || !resolveExecutable(image, program[0])) return this.startFailed(key, c, `exec: "${program[0] ?? ''}": executable file not found in $PATH`);
    }
    const hostProgram = missing === undefined ? this.hostExecutable(resolveExecutable(image, program[0]!)!) : this.options.bash ?? '/bin/bash';
    // The program and its script operand are mapped into the temporary folder; later args pass as written (the script sees "/data").
    const programArgs = missing === undefined
      ? program.slice(1).map((arg, i) => (i === 0 ? mapPath(arg) : arg))
      // tini could not exec the program: it says so and exits 1.
      : ['-c', `echo "[FATAL tini (7)] exec ${missing} failed: No such file or directory" >&2; exit 1`];
    // PID 1 gets no default signal action: a signal it installed no handler for is ignored.
    const [file, fileArgs] = pid1 ? ['/bin/sh', ['-c', 'trap "" TERM INT; exec "$@"', 'pid1', hostProgram, ...programArgs]] : [hostProgram, programArgs];
    const child = spawn(file, fileArgs as string[], {
      cwd: spec.workingDir ? mapPath(spec.workingDir) : c.dir,
      env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const interpreter = hostProgram;
    c.child = child;
    const startedAt = isoNow();
    const partial = { out: '', err: '' };
    const onData = (which: 'out' | 'err') => (chunk: string) => {
      const lines = (partial[which] + chunk).split('\n');
      partial[which] = lines.pop() ?? '';
      for (const text of lines) this.appendLog(c, text);
    };
    child.stdout!.setEncoding('utf8').on('data', onData('out'));
    child.stderr!.setEncoding('utf8').on('data', onData('err'));
    this.modifyPod(key, (p) => {
      p.status.phase = 'Running';
      p.status.podIP = `10.244.0.${(this.rv % 250) + 1}`;
      p.status.conditions = [
        { type: 'PodScheduled', status: 'True', lastTransitionTime: startedAt },
        { type: 'Initialized', status: 'True', lastTransitionTime: startedAt },
        { type: 'ContainersReady', status: 'True', lastTransitionTime: startedAt },
        { type: 'Ready', status: 'True', lastTransitionTime: startedAt },
      ];
      p.status.containerStatuses[0] = { ...p.status.containerStatuses[0], ready: true, started: true, state: { running: { startedAt } } };
    });
    child.once('error', (error) => this.appendLog(c, `emulator: cannot run ${interpreter}: ${error.message}`));
    child.once('close', (code, signal) => {
      for (const which of ['out', 'err'] as const) if (partial[which]) this.appendLog(c, partial[which]);
      this.containerEnded(key, c, code, signal);
    });
  }

  /** The host program an image's executable runs as. */
  private hostExecutable(path: string): string {
    const base = path.split('/').pop()!;
    if (/^python3?(\.\d+)?$/.test(base)) return this.options.python ?? '/usr/bin/python3';
    if (base === 'bash') return this.options.bash ?? '/bin/bash';
    if (base === 'sh' || base === 'dash') return '/bin/sh';
    if (base === 'node') return process.execPath;
    return `/usr/bin/${base}`;
  }

  /** The image cannot be pulled: the pod stays Pending (ErrImagePull), as on a node. */
  private imagePullFailed(key: string, image: string) {
    const pod = this.store.pods.get(key);
    if (pod?.status.containerStatuses?.[0]?.state?.waiting?.reason === 'ErrImagePull') return;
    this.modifyPod(key, (p) => {
      p.status.containerStatuses[0] = {
        ...p.status.containerStatuses[0],
        state: { waiting: { reason: 'ErrImagePull', message: `failed to pull and unpack image "${image}": not found` } },
      };
    });
  }

  /** The runtime could not start the container's process: it ends at once, exit code 128, reason StartError. */
  private startFailed(key: string, c: Container, why: string) {
    c.ended = true;
    clearTimeout(c.deadlineTimer);
    const at = isoNow();
    this.modifyPod(key, (p) => {
      p.status.phase = 'Failed';
      p.status.containerStatuses[0] = {
        ...p.status.containerStatuses[0],
        ready: false,
        started: false,
        state: {
          terminated: {
            exitCode: 128,
            reason: 'StartError',
            message: `failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: ${why}: unknown`,
            startedAt: '1970-01-01T00:00:00Z',
            finishedAt: at,
          },
        },
      };
    });
  }

  private appendLog(c: Container, text: string) {
    const { ts, nanos } = nowTimestamp();
    const record = { ts, nanos, text };
    c.records.push(record);
    for (const f of c.followers) f(record);
  }

  private signal(c: Container, signal: NodeJS.Signals) {
    try {
      if (c.child?.pid && !c.ended) process.kill(-c.child.pid, signal);
    } catch {
      // already gone
    }
  }

  private terminate(c: Container, graceSeconds: number) {
    if (c.ended) return;
    if (graceSeconds <= 0) return this.signal(c, 'SIGKILL');
    if (c.killTimer) return;
    this.signal(c, 'SIGTERM');
    c.killTimer = setTimeout(() => this.signal(c, 'SIGKILL'), graceSeconds * 1000);
  }

  private deadlineExceeded(key: string) {
    const pod = this.store.pods.get(key);
    const c = this.containers.get(key);
    if (!pod || !c || c.ended) return;
    c.deadlineExceeded = true;
    if (!c.child) {
      // Never started: the pod fails at once.
      c.ended = true;
      this.modifyPod(key, (p) => {
        p.status.phase = 'Failed';
        p.status.reason = 'DeadlineExceeded';
        p.status.message = `Pod was active on the node longer than the specified deadline`;
      });
      return;
    }
    this.terminate(c, pod.spec.terminationGracePeriodSeconds ?? 30);
  }

  private containerEnded(key: string, c: Container, code: number | null, signal: NodeJS.Signals | null) {
    c.ended = true;
    clearTimeout(c.killTimer);
    clearTimeout(c.deadlineTimer);
    const signals: Record<string, number> = { SIGTERM: 15, SIGKILL: 9, SIGINT: 2, SIGHUP: 1 };
    const exitCode = code ?? 128 + (signals[signal ?? ''] ?? 0);
    const finishedAt = isoNow();
    // The kubelet reports the status, then the log stream of the ended container closes.
    this.modifyPod(key, (p) => {
      const cs = p.status.containerStatuses[0];
      p.status.containerStatuses[0] = {
        ...cs,
        ready: false,
        started: false,
        state: { terminated: { exitCode, reason: exitCode === 0 ? 'Completed' : 'Error', startedAt: cs.state?.running?.startedAt, finishedAt } },
      };
      p.status.phase = exitCode === 0 && !c.deadlineExceeded ? 'Succeeded' : 'Failed';
      if (c.deadlineExceeded) {
        p.status.reason = 'DeadlineExceeded';
        p.status.message = 'Pod was active on the node longer than the specified deadline';
      }
      p.status.conditions = (p.status.conditions ?? []).map((cond: Obj) =>
        cond.type === 'Ready' || cond.type === 'ContainersReady' ? { ...cond, status: 'False', reason: 'PodCompleted', lastTransitionTime: finishedAt } : cond,
      );
    });
    setImmediate(() => {
      for (const f of c.followers) f(null);
      const pod = this.store.pods.get(key);
      if (pod?.metadata.deletionTimestamp) this.remove('pods', key);
    });
  }

  // ------------------------------------------------------------ log

  private log(res: ServerResponse, namespace: string, name: string, query: Record<string, string>) {
    const key = `${namespace}/${name}`;
    const pod = this.store.pods.get(key);
    if (!pod) return this.json(res, 404, this.notFound('pods', name));
    const containerName = query.container ?? pod.spec.containers[0].name;
    if (containerName !== pod.spec.containers[0].name) {
      return this.json(res, 400, status(400, 'BadRequest', `container ${containerName} is not valid for pod ${name}`));
    }
    const c = this.containers.get(key);
    if (!c?.child && !c?.ended) {
      return this.json(res, 400, status(400, 'BadRequest', `container "${containerName}" in pod "${name}" is waiting to start: ContainerCreating`));
    }
    const follow = query.follow === 'true';
    const timestamps = query.timestamps === 'true';
    // The API server hands sinceTime to the kubelet with second precision.
    const since = query.sinceTime ? BigInt(Math.floor(Date.parse(query.sinceTime) / 1000)) * 1_000_000_000n : undefined;
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    const early = follow ? this.closeLogEarly : undefined;
    if (early) this.closeLogEarly = undefined;
    let written = 0;
    let closed = false;
    const close = (how: 'end' | 'destroy') => {
      if (closed) return;
      closed = true;
      c.followers.delete(push);
      if (how === 'destroy') res.socket?.destroy();
      else res.end();
    };
    const push = (record: LogRecord | null) => {
      if (closed) return;
      if (!record) return close('end');
      if (since !== undefined && record.nanos < since) return;
      res.write(`${timestamps ? `${record.ts} ` : ''}${record.text}\n`);
      written++;
      this.logLinesSent++;
      if (early && written >= early.afterLines) close(early.how);
    };
    for (const record of [...c.records]) push(record);
    if (closed) return;
    if (!follow || c.ended) return close('end');
    c.followers.add(push);
    res.on('close', () => {
      closed = true;
      c.followers.delete(push);
    });
  }

  // ------------------------------------------------------------ watch

  private bookmark(w: Watcher) {
    if (!w.bookmarks) return;
    w.res.write(`${JSON.stringify({ type: 'BOOKMARK', object: { kind: KINDS[w.resource], apiVersion: 'v1', metadata: { resourceVersion: String(this.rv) } } })}\n`);
  }

  private watch(res: ServerResponse, resource: Resource, namespace: string, query: Record<string, string>) {
    const selector = parseSelector(query.labelSelector);
    const from = query.resourceVersion ? Number(query.resourceVersion) : undefined;
    if (from !== undefined && from !== 0 && from < this.compactedBelow) {
      const gone = status(410, 'Expired', `too old resource version: ${from} (${this.compactedBelow})`);
      if (this.goneAsHttpStatus) return this.json(res, 410, gone);
      res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
      res.end(`${JSON.stringify({ type: 'ERROR', object: gone })}\n`);
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders(); // the API server answers a watch at once, before any event
    const matches = (o: Obj) => o.metadata.namespace === namespace && selector(o.metadata.labels ?? {});
    if (from === undefined || from === 0) {
      for (const o of this.store[resource].values()) if (matches(o)) res.write(`${JSON.stringify({ type: 'ADDED', object: o })}\n`);
    } else {
      for (const e of this.history) {
        if (e.rv > from && e.resource === resource && matches(e.object)) res.write(`${JSON.stringify({ type: e.type, object: e.object })}\n`);
      }
    }
    const watcher: Watcher = { resource, namespace, selector, res, bookmarks: query.allowWatchBookmarks === 'true' };
    this.watchers.add(watcher);
    const bookmarks = watcher.bookmarks ? setInterval(() => this.bookmark(watcher), this.options.bookmarkIntervalMs ?? 60_000) : undefined;
    let timer: NodeJS.Timeout | undefined;
    if (query.timeoutSeconds) {
      timer = setTimeout(() => {
        this.watchers.delete(watcher);
        res.end();
      }, Number(query.timeoutSeconds) * 1000);
    }
    res.on('close', () => {
      clearTimeout(timer);
      clearInterval(bookmarks);
      this.watchers.delete(watcher);
    });
  }
}
