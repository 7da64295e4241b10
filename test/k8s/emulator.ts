// An in-test emulation of the parts of the Kubernetes API that the script runtime uses,
// over real HTTP on a loopback port, faithful enough that @kubernetes/client-node cannot
// tell it from an API server:
//  - core/v1 pods, configmaps, secrets, services: create / get / list (labelSelector) /
//    delete; ownerReferences cascade when the owner is deleted (garbage collection);
//  - watch (`?watch=true`, JSON lines) from a resourceVersion, with history replay,
//    `timeoutSeconds`, and "410 Gone" (an ERROR event with a Status, as the API server
//    sends it) for resourceVersions older than the last compaction;
//  - pods/{name}/log with follow, timestamps (RFC3339Nano, trailing zeros trimmed, as Go
//    prints them) and sinceTime (truncated to the second, as the API server passes it to
//    the kubelet);
//  - a "kubelet": a pod starts once every configMap/secret volume it mounts exists; its
//    container really runs (the script from the ConfigMap/Secret, with python3 or bash as
//    a local child process in its own process group), so log and exit code are real;
//    activeDeadlineSeconds is honoured (phase Failed, reason DeadlineExceeded); deleting
//    a running pod sends SIGTERM, then SIGKILL after the grace period.
// Every request is recorded (method, path, query) so tests can count API calls.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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
}

interface HistoryEvent {
  rv: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  resource: Resource;
  object: Obj;
}

export interface EmulatorOptions {
  /** Interpreter for a container command: python* → python3, anything else → bash. */
  python?: string;
  bash?: string;
  /** Delay between a pod's creation and its scheduling (ms). */
  scheduleDelayMs?: number;
}

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
  url = '';

  constructor(private readonly options: EmulatorOptions = {}) {}

  async start(): Promise<string> {
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
        users: [{ name: 'emulated', user: { token: 'not-checked' } }],
        contexts: [{ name: 'emulator', context: { cluster: 'emulator', user: 'emulated', namespace } }],
        'current-context': 'emulator',
      }),
    );
    return path;
  }

  async stop() {
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

  // ------------------------------------------------------------ test controls

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
    // Garbage collection: dependents owned by the deleted object go too.
    for (const r of Object.keys(this.store) as Resource[]) {
      for (const [k, o] of [...this.store[r]]) {
        if ((o.metadata.ownerReferences ?? []).some((ref: Obj) => ref.uid === object.metadata.uid)) this.delete(r, o);
        void k;
      }
    }
  }

  // ------------------------------------------------------------ kubelet

  private schedule(key: string) {
    const pod = this.store.pods.get(key);
    if (!pod || pod.metadata.deletionTimestamp) return;
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
    if (!pod || !pod.spec.nodeName || pod.status.phase !== 'Pending' || pod.metadata.deletionTimestamp) return;
    const c = this.container(key);
    if (c.child) return;
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
    // The command's paths are mapped into the temporary folder; args are passed as written (the script sees "/data").
    const command: string[] = [...(spec.command ?? []).map(mapPath), ...(spec.args ?? [])];
    const interpreter = /python/.test(command[0] ?? '') ? (this.options.python ?? '/usr/bin/python3') : (this.options.bash ?? '/bin/bash');
    const child = spawn(interpreter, command.slice(1), {
      cwd: spec.workingDir ? mapPath(spec.workingDir) : c.dir,
      env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
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
    if (!c?.child) {
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
    const watcher: Watcher = { resource, namespace, selector, res };
    this.watchers.add(watcher);
    let timer: NodeJS.Timeout | undefined;
    if (query.timeoutSeconds) {
      timer = setTimeout(() => {
        this.watchers.delete(watcher);
        res.end();
      }, Number(query.timeoutSeconds) * 1000);
    }
    res.on('close', () => {
      clearTimeout(timer);
      this.watchers.delete(watcher);
    });
  }
}
