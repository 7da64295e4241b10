import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { Api } from '../harness/api.js';
import type { PostgresStopMode } from '../harness/postgres.js';
import { ADMIN_PASSWORD, login, startDistributed } from '../harness/stack.js';
import { clean, describeTally, numbersOf, parseSideFile, tally, type LineTally } from './accounting.js';
import { watch, type LiveViewer } from './viewers.js';

/**
 * The fault suite's scenarios, shared by the specs (one per fault family) and
 * `npm run bench faults`. Each scenario starts runs of the counting fixture, breaks one thing
 * while they print, and returns what it measured plus every broken promise as a precise sentence
 * (`problems`): lines lost/doubled/reordered per run and per live viewer, runs not in a true final
 * state, services not serving again within 10 s of the fault's end.
 */

const ROOT = resolve(import.meta.dirname, '../../..');
export const FIXTURES = join(ROOT, 'test/faults/fixtures');
const SCRIPT = 'faults/counter.py';
export const SERVICES = ['gateway', 'auth', 'catalog', 'execution', 'logging', 'backup'] as const;
export type Service = (typeof SERVICES)[number];
const FINAL = new Set(['succeeded', 'failed', 'timed_out', 'cancelled', 'lost']);
/** Every service must serve again this soon after a fault ends. */
export const RECOVERY_LIMIT_MS = 10_000;
/** How long recovery is watched, so a slow one is measured rather than only failed. */
const RECOVERY_WATCH_MS = 30_000;
/** Slow scripts print one line every 40 ms. */
const SLOW_INTERVAL = 0.04;

type Stack = Awaited<ReturnType<typeof startDistributed>>;

export interface Rig {
  stack: Stack;
  api: Api;
  token: string;
  /** Where the scripts' side files are (found after the first run). */
  sideDir: string;
  /** A finished run whose record and log every recovery probe reads. */
  probeRunId: string;
  backup: grpc.Client;
  nextTag: number;
  /** Services taken down on purpose right now (the watchdog leaves them alone). */
  down: Set<string>;
  /** Services that exited by themselves; the watchdog started each again at once, as an orchestrator would. */
  crashes: { service: string; exit: string; at: number; output: string }[];
  stop(): Promise<void>;
}

/** The distributed stack on its own PostgreSQL and NATS, every service with a health port. */
export async function startRig(env: Record<string, string> = {}): Promise<Rig> {
  const stack = await startDistributed(
    { SCRIPT_GROUPS_DIR: FIXTURES, MAX_RUNS_PER_USER: '0', MAX_CONCURRENT_RUNS: '32', RUN_SUBMISSIONS_PER_MINUTE: '0', ...env },
    { healthPorts: true },
  );
  const token = await login(stack.url);
  const definition = protoLoader.loadSync(join(ROOT, 'proto/scriptorium/backup/v1/backup.proto'), { includeDirs: [join(ROOT, 'proto')] });
  const Backup = grpc.makeGenericClientConstructor(definition['scriptorium.backup.v1.BackupService'] as grpc.ServiceDefinition, 'BackupService');
  const rig: Rig = {
    stack,
    api: new Api(stack.url, token),
    token,
    sideDir: '',
    probeRunId: '',
    backup: new Backup(stack.services.backup.grpcUrl, grpc.credentials.createInsecure()),
    nextTag: 0,
    down: new Set(),
    crashes: [],
    async stop() {
      clearInterval(watchdog);
      rig.backup.close();
      await stack.stop();
    },
  };
  const watchdog = setInterval(() => {
    for (const [service, child] of stack.processes) {
      if (rig.down.has(service) || (child.exitCode === null && child.signalCode === null)) continue;
      rig.crashes.push({ service, exit: String(child.exitCode ?? child.signalCode), at: Date.now(), output: stack.output().slice(-1500) });
      void stack.restart(service);
    }
  }, 100);
  try {
    const probe = await submit(rig, 'probe', { count: 3, interval: 0 });
    const [report] = await settle(rig, [probe]);
    if (report.state !== 'succeeded' || !clean(report.stored)) {
      const log = await rig.api.get(`/api/v1/executions/${probe.id}/log?format=text`);
      throw new Error(`the probe run did not succeed cleanly before any fault: ${report.state} (${report.reason}), ${describeTally(report.stored)}; its log:\n${String(log.body).slice(0, 2000)}`);
    }
    rig.probeRunId = probe.id;
    return rig;
  } catch (error) {
    await rig.stop();
    throw error;
  }
}

// ------------------------------------------------------------------ runs

export interface RunPlan {
  count: number;
  /** Seconds between lines; 0 floods. */
  interval: number;
  viewers?: ('ws' | 'sse')[];
}

export interface TrackedRun {
  id: string;
  tag: string;
  plan: RunPlan;
  /** Found under the stack's data folder once the script created it. */
  side: string;
  viewers: LiveViewer[];
}

export interface Refusal {
  tag: string;
  status: number;
  retryAfter: string | null;
  message: string;
  /** The run a retry with the same Idempotency-Key got once the fault was over. */
  retried?: TrackedRun;
}

const slow = (seconds: number, viewers: RunPlan['viewers'] = ['ws']): RunPlan => ({ count: Math.ceil(seconds / SLOW_INTERVAL), interval: SLOW_INTERVAL, viewers });

async function post(rig: Rig, label: string, plan: RunPlan, tag = `${label}-${++rig.nextTag}`) {
  const parameters = { tag, count: plan.count, interval: plan.interval };
  try {
    const res = await fetch(`${rig.stack.url}/api/v1/executions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${rig.token}`, 'idempotency-key': tag },
      body: JSON.stringify({ scriptId: SCRIPT, parameters }),
      signal: AbortSignal.timeout(10_000),
    });
    const body = (await res.json().catch(() => ({}))) as { id?: string; message?: string };
    if (res.status === 202 && body.id) {
      const viewers = (plan.viewers ?? []).map((kind) => watch(kind, rig.stack.url, rig.token, body.id!));
      return { run: { id: body.id, tag, plan, side: '', viewers } satisfies TrackedRun };
    }
    return { refusal: { tag, status: res.status, retryAfter: res.headers.get('retry-after'), message: body.message ?? JSON.stringify(body) } satisfies Refusal };
  } catch (error) {
    return { refusal: { tag, status: 0, retryAfter: null, message: `no answer: ${(error as Error).message}` } satisfies Refusal };
  }
}

/** Submits a run that must be accepted (before any fault). */
export async function submit(rig: Rig, label: string, plan: RunPlan): Promise<TrackedRun> {
  const answer = await post(rig, label, plan);
  if (!answer.run) throw new Error(`submitting ${answer.refusal.tag} answered ${answer.refusal.status}: ${answer.refusal.message}`);
  return answer.run;
}

/** The side files' folder: `<project data dir>/fault-sides`, the admin's default project of the faults group. */
function sideFolder(rig: Rig): string {
  if (!rig.sideDir) {
    const projects = join(rig.stack.dataDir, 'projects');
    const found = existsSync(projects) ? readdirSync(projects, { recursive: true, encoding: 'utf8' }).find((p) => basename(p) === 'fault-sides') : undefined;
    if (found) rig.sideDir = join(projects, found);
  }
  return rig.sideDir;
}

export function printedBy(rig: Rig, run: TrackedRun): number[] {
  if (!run.side && sideFolder(rig)) run.side = join(rig.sideDir, `${run.tag}.printed`);
  if (!run.side) return [];
  try {
    return parseSideFile(readFileSync(run.side, 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

async function waitPrinted(rig: Rig, runs: TrackedRun[], lines: number, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (const run of runs) {
    while (printedBy(rig, run).length < Math.min(lines, run.plan.count)) {
      if (Date.now() > deadline) throw new Error(`run ${run.id} (${run.tag}) printed only ${printedBy(rig, run).length} lines in ${timeoutMs / 1000} s, before any fault`);
      await sleep(50);
    }
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------------ settling and accounting

export interface ViewerReport {
  kind: 'ws' | 'sse';
  tally: LineTally;
  ended: boolean;
  reconnects: number;
  lastError: string;
}

export interface RunReport {
  id: string;
  tag: string;
  planned: number;
  state: string;
  reason: string;
  printed: number;
  stored: LineTally;
  complete: boolean;
  viewers: ViewerReport[];
  /** Why the run or its log could not be read, if so. */
  readError: string;
}

async function readRun(rig: Rig, id: string) {
  const res = await rig.api.get(`/api/v1/executions/${id}`);
  if (res.status !== 200) throw new Error(`GET /executions/${id} answered ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body as { state: string; stateReason: string | null };
}

/** The whole stored log through the REST API, page by page by sequence. */
async function readStoredLog(rig: Rig, id: string): Promise<{ texts: string[]; complete: boolean }> {
  const texts: string[] = [];
  let after = 0;
  let complete = false;
  for (;;) {
    const res = await rig.api.get(`/api/v1/executions/${id}/log?after=${after}&limit=10000`);
    if (res.status !== 200) throw new Error(`GET /executions/${id}/log?after=${after} answered ${res.status}: ${JSON.stringify(res.body)}`);
    const page = res.body as { lines: { sequence: number; text: string }[]; complete: boolean };
    complete = page.complete;
    if (!page.lines.length) return { texts, complete };
    texts.push(...page.lines.map((l) => l.text));
    after = page.lines.at(-1)!.sequence;
  }
}

/**
 * Waits for each run to reach a final state (up to `finalWithinMs`), then for its stored log to
 * hold every printed line and be complete (up to `storedWithinMs` more: redelivery takes time),
 * then for its viewers to see the end; and accounts for every line.
 */
export async function settle(rig: Rig, runs: TrackedRun[], options: { finalWithinMs?: number; storedWithinMs?: number } = {}): Promise<RunReport[]> {
  const { finalWithinMs = 60_000, storedWithinMs = 20_000 } = options;
  return Promise.all(
    runs.map(async (run): Promise<RunReport> => {
      let state = 'unknown';
      let reason = '';
      let readError = '';
      const finalBy = Date.now() + finalWithinMs;
      while (Date.now() < finalBy) {
        try {
          const record = await readRun(rig, run.id);
          [state, reason, readError] = [record.state, record.stateReason ?? '', ''];
          if (FINAL.has(state)) break;
        } catch (error) {
          readError = (error as Error).message;
        }
        await sleep(250);
      }
      const killed = state !== 'succeeded';
      let printed = printedBy(rig, run);
      let stored = tally(printed, [], { killed });
      let complete = false;
      const storedBy = Date.now() + storedWithinMs;
      do {
        try {
          printed = printedBy(rig, run);
          const log = await readStoredLog(rig, run.id);
          stored = tally(printed, numbersOf(run.tag, log.texts), { killed });
          complete = log.complete;
          readError = '';
          if (!FINAL.has(state) || (complete && clean(stored))) break;
        } catch (error) {
          readError = (error as Error).message;
        }
        await sleep(1000);
      } while (Date.now() < storedBy);
      await Promise.race([Promise.all(run.viewers.map((v) => v.done)), sleep(FINAL.has(state) ? 15_000 : 0)]);
      const viewers = run.viewers.map((v): ViewerReport => {
        v.stop();
        return { kind: v.kind, tally: tally(printed, numbersOf(run.tag, v.lines.map((l) => l.text)), { killed }), ended: v.ended, reconnects: v.reconnects, lastError: v.lastError };
      });
      return { id: run.id, tag: run.tag, planned: run.plan.count, state, reason, printed: printed.length, stored, complete, viewers, readError };
    }),
  );
}

/** Every broken promise about one run, as sentences naming the run. */
export function runProblems(r: RunReport): string[] {
  const name = `run ${r.id} (${r.tag}, ${r.printed} of ${r.planned} lines printed)`;
  const problems: string[] = [];
  if (!FINAL.has(r.state)) problems.push(`${name} stuck in ${r.state}${r.readError ? ` (last read: ${r.readError})` : ''}`);
  else if (r.printed === r.planned && r.state !== 'succeeded') problems.push(`${name}: its script completed but the run ended ${r.state}: ${r.reason || 'no reason'}`);
  else if (r.printed < r.planned && r.state === 'succeeded') problems.push(`${name} ended succeeded although its script did not print every line`);
  else if (r.state !== 'succeeded' && !['lost', 'failed'].includes(r.state)) problems.push(`${name} ended ${r.state} (${r.reason}); a run that cannot continue must be lost or failed`);
  else if (r.state !== 'succeeded' && !r.reason) problems.push(`${name} ended ${r.state} without a reason`);
  if (!clean(r.stored)) problems.push(`${name} stored log: ${describeTally(r.stored)}`);
  if (FINAL.has(r.state) && !r.complete) problems.push(`${name} stored log never marked complete`);
  if (r.readError && FINAL.has(r.state)) problems.push(`${name}: ${r.readError}`);
  for (const [i, v] of r.viewers.entries()) {
    const who = `${name} live ${v.kind} viewer #${i + 1} (${v.reconnects} reconnects)`;
    if (!clean(v.tally)) problems.push(`${who}: ${describeTally(v.tally)}`);
    if (!v.ended && FINAL.has(r.state)) problems.push(`${who} never got the end of the stream${v.lastError ? ` (last error: ${v.lastError})` : ''}`);
  }
  return problems;
}

// ------------------------------------------------------------------ recovery

export interface Recovery {
  /** Milliseconds from the fault's end until health/readiness and a real request both answered; null if not within 30 s. */
  ms: number | null;
  lastError: string;
}

/** One real request per service, through the gateway as a user makes it (backup: its own gRPC API). */
async function realRequest(rig: Rig, service: Service): Promise<void> {
  const timeout = AbortSignal.timeout(2000);
  const expectOk = async (path: string, init: RequestInit = {}) => {
    const res = await fetch(`${rig.stack.url}${path}`, { ...init, headers: { authorization: `Bearer ${rig.token}`, 'content-type': 'application/json', ...(init.headers ?? {}) }, signal: timeout });
    if (res.status !== 200) throw new Error(`${init.method ?? 'GET'} ${path} answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
  };
  switch (service) {
    case 'gateway':
      return expectOk('/api/v1/me');
    case 'auth':
      return expectOk('/api/v1/auth/login', { method: 'POST', body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }) });
    case 'catalog':
      return expectOk(`/api/v1/scripts/${SCRIPT}`);
    case 'execution':
      return expectOk(`/api/v1/executions/${rig.probeRunId}`);
    case 'logging':
      return expectOk(`/api/v1/executions/${rig.probeRunId}/log?limit=1`);
    case 'backup': {
      const metadata = new grpc.Metadata();
      metadata.set('authorization', `Bearer ${rig.token}`);
      return new Promise((resolveCall, reject) =>
        (rig.backup as unknown as Record<string, Function>).ListBackups({}, metadata, { deadline: Date.now() + 2000 }, (error: grpc.ServiceError | null) =>
          error ? reject(new Error(`ListBackups: ${error.message}`)) : resolveCall(),
        ),
      );
    }
  }
}

async function serving(rig: Rig, service: Service): Promise<void> {
  const res = await fetch(`${rig.stack.services[service].healthUrl}/readyz`, { signal: AbortSignal.timeout(3000) });
  if (res.status !== 200) throw new Error(`/readyz answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
  await realRequest(rig, service);
}

/** Times each service from `faultEnd` until its readiness and a real request both succeed. */
export async function measureRecovery(rig: Rig, faultEnd: number): Promise<Record<Service, Recovery>> {
  const entries = await Promise.all(
    SERVICES.map(async (service): Promise<[Service, Recovery]> => {
      let lastError = '';
      while (Date.now() - faultEnd < RECOVERY_WATCH_MS) {
        try {
          await serving(rig, service);
          return [service, { ms: Date.now() - faultEnd, lastError }];
        } catch (error) {
          lastError = (error as Error).message;
        }
        await sleep(100);
      }
      return [service, { ms: null, lastError }];
    }),
  );
  return Object.fromEntries(entries) as Record<Service, Recovery>;
}

// ------------------------------------------------------------------ cases

export interface CaseResult {
  name: string;
  runs: RunReport[];
  recovery: Record<Service, Recovery>;
  refusals: Refusal[];
  /** Services whose process exited by itself during the case (restarted afterwards). */
  crashed: string[];
  problems: string[];
}

export interface CaseOptions {
  /** Lines of the flooding run (0: none). */
  flood?: number;
}

/** Every service serving before a case starts, so one case's damage is not blamed on the next. */
async function whole(rig: Rig) {
  const recovery = await measureRecovery(rig, Date.now());
  const broken = SERVICES.filter((s) => recovery[s].ms === null);
  if (broken.length) throw new Error(`the stack is not serving before the fault: ${broken.map((s) => `${s} (${recovery[s].lastError})`).join('; ')}`);
}

/** Groups equal sentences: "3 submissions (a, b, c) …" instead of three lines. */
function grouped(items: { tag: string; what: string }[]): string[] {
  const byWhat = new Map<string, string[]>();
  for (const { tag, what } of items) byWhat.set(what, [...(byWhat.get(what) ?? []), tag]);
  return [...byWhat].map(([what, tags]) => `${tags.length} submission${tags.length > 1 ? 's' : ''} (${tags.slice(0, 6).join(', ')}${tags.length > 6 ? ', …' : ''}) ${what}`);
}

async function conclude(rig: Rig, name: string, caseStart: number, faultEnd: number, runs: TrackedRun[], refusals: Refusal[] = []): Promise<CaseResult> {
  const [recovery, reports] = await Promise.all([measureRecovery(rig, faultEnd), settle(rig, runs)]);
  const problems: string[] = [];
  // Submissions refused during the fault: the answer must say "try again" (503 + Retry-After),
  // and a retry with the same idempotency key afterwards must give one run, accounted like the others.
  const retried: TrackedRun[] = [];
  const refused: { tag: string; what: string }[] = [];
  const retryRefused: { tag: string; what: string }[] = [];
  for (const refusal of refusals) {
    if (refusal.status !== 503 || !refusal.retryAfter) {
      refused.push({ tag: refusal.tag, what: `during the fault answered ${refusal.status || 'nothing'}${refusal.retryAfter ? '' : ' without Retry-After'} (${refusal.message}); expected 503 with Retry-After` });
    }
    const again = await post(rig, name, { count: 20, interval: 0.01 }, refusal.tag);
    if (again.run) retried.push((refusal.retried = again.run));
    else retryRefused.push({ tag: refusal.tag, what: `retried with the same Idempotency-Key after the fault still answered ${again.refusal.status || 'nothing'}: ${again.refusal.message}` });
  }
  problems.push(...grouped(refused), ...grouped(retryRefused));
  if (retried.length) reports.push(...(await settle(rig, retried)));
  for (const report of reports) problems.push(...runProblems(report));
  for (const service of SERVICES) {
    const r = recovery[service];
    if (r.ms === null) problems.push(`${service} not serving ${RECOVERY_WATCH_MS / 1000} s after the fault's end (last error: ${r.lastError})`);
    else if (r.ms > RECOVERY_LIMIT_MS) problems.push(`${service} serving again only ${(r.ms / 1000).toFixed(1)} s after the fault's end (limit ${RECOVERY_LIMIT_MS / 1000} s; last error before: ${r.lastError})`);
  }
  // A service that died by itself is a finding (the watchdog already started it again).
  const crashes = rig.crashes.filter((c) => c.at >= caseStart);
  const when = (at: number) => (at < faultEnd ? `during the fault, ${((faultEnd - at) / 1000).toFixed(1)} s before its end` : `${((at - faultEnd) / 1000).toFixed(1)} s after the fault's end`);
  for (const c of crashes) problems.push(`${c.service} exited by itself (exit ${c.exit}) ${when(c.at)}; the suite started it again; last output:\n${c.output.slice(-1000)}`);
  return { name, runs: reports, recovery, refusals, crashed: crashes.map((c) => c.service), problems };
}

/** kill -9 a service, keep it down `downMs`, start it again; the watchdog knows it is on purpose. */
async function killAndRestart(rig: Rig, service: string, downMs = 0) {
  rig.down.add(service);
  try {
    await rig.stack.kill(service);
    await sleep(downMs);
    await rig.stack.restart(service);
  } finally {
    rig.down.delete(service);
  }
}

/** kill -9 one service while runs print (and one floods), then start it again at once. */
export async function killService(rig: Rig, service: Service, options: CaseOptions = {}): Promise<CaseResult> {
  const name = `kill -9 ${service}`;
  await whole(rig);
  const caseStart = Date.now();
  const runs = [await submit(rig, `kill-${service}`, slow(6)), await submit(rig, `kill-${service}`, slow(6))];
  await waitPrinted(rig, runs, 25);
  if (options.flood) runs.push(await submit(rig, `kill-${service}-flood`, { count: options.flood, interval: 0, viewers: ['ws'] }));
  await waitPrinted(rig, runs.slice(2), 500);
  await killAndRestart(rig, service);
  return conclude(rig, name, caseStart, Date.now(), runs);
}

/** NATS stopped for `downMs` while runs print and one floods. */
export async function natsOutage(rig: Rig, downMs: number, options: CaseOptions = {}): Promise<CaseResult> {
  const name = `NATS down ${downMs / 1000} s`;
  await whole(rig);
  const caseStart = Date.now();
  const runs = [await submit(rig, 'nats', slow(downMs / 1000 + 6)), await submit(rig, 'nats', slow(downMs / 1000 + 6))];
  await waitPrinted(rig, runs, 25);
  if (options.flood) runs.push(await submit(rig, 'nats-flood', { count: options.flood, interval: 0, viewers: ['ws'] }));
  await waitPrinted(rig, runs.slice(2), 500);
  await rig.stack.nats.restart({ downMs });
  return conclude(rig, name, caseStart, Date.now(), runs);
}

/** PostgreSQL restarted (`fast` or `immediate`) while runs print and new ones are being submitted. */
export async function postgresRestart(rig: Rig, mode: PostgresStopMode, downMs: number, options: CaseOptions = {}): Promise<CaseResult> {
  const name = `PostgreSQL ${mode} restart, ${downMs / 1000} s down`;
  await whole(rig);
  const caseStart = Date.now();
  const runs = [await submit(rig, `pg-${mode}`, slow(downMs / 1000 + 6))];
  if (options.flood) runs.push(await submit(rig, `pg-${mode}-flood`, { count: options.flood, interval: 0, viewers: ['ws'] }));
  await waitPrinted(rig, runs, 25);
  const refusals: Refusal[] = [];
  let submitting = true;
  // Short runs submitted every 200 ms from 1 s before the restart until 2 s after it.
  const submitter = (async () => {
    while (submitting) {
      const answer = await post(rig, `pg-${mode}-short`, { count: 20, interval: 0.01 });
      if (answer.run) runs.push(answer.run);
      else refusals.push(answer.refusal);
      await sleep(200);
    }
  })();
  await sleep(1000);
  await rig.stack.postgres.restart({ mode, downMs });
  const faultEnd = Date.now();
  await sleep(2000);
  submitting = false;
  await submitter;
  return conclude(rig, name, caseStart, faultEnd, runs, refusals);
}

/** kill -9 the gateway while live viewers (WebSocket and SSE) follow runs; down for `downMs`. */
export async function gatewayUnderViewers(rig: Rig, downMs = 1000, options: CaseOptions = {}): Promise<CaseResult> {
  const name = `kill -9 gateway under live viewers, ${downMs / 1000} s down`;
  await whole(rig);
  const caseStart = Date.now();
  const viewers: RunPlan['viewers'] = ['ws', 'ws', 'sse'];
  const runs = [await submit(rig, 'viewers', slow(downMs / 1000 + 6, viewers)), await submit(rig, 'viewers', slow(downMs / 1000 + 6, viewers))];
  await waitPrinted(rig, runs, 25);
  if (options.flood) runs.push(await submit(rig, 'viewers-flood', { count: options.flood, interval: 0, viewers: ['ws', 'sse'] }));
  await waitPrinted(rig, runs.slice(2), 500);
  await killAndRestart(rig, 'gateway', downMs);
  const result = await conclude(rig, name, caseStart, Date.now(), runs);
  // A viewer that never reconnected did not live through the kill: the case would prove nothing.
  for (const run of result.runs) {
    for (const [i, v] of run.viewers.entries()) if (v.reconnects < 1) result.problems.push(`run ${run.id} (${run.tag}) live ${v.kind} viewer #${i + 1} never lost its connection when the gateway was killed`);
  }
  return result;
}

// ------------------------------------------------------------------ figures

export interface Figures {
  printed: number;
  stored: number;
  lost: number;
  doubled: number;
  outOfOrder: number;
  viewerLost: number;
  viewerDoubled: number;
  viewers: number;
  reconnects: number;
  states: Record<string, number>;
}

export function figures(result: CaseResult): Figures {
  const f: Figures = { printed: 0, stored: 0, lost: 0, doubled: 0, outOfOrder: 0, viewerLost: 0, viewerDoubled: 0, viewers: 0, reconnects: 0, states: {} };
  for (const r of result.runs) {
    f.printed += r.printed;
    f.stored += r.stored.seen;
    f.lost += r.stored.lost.length;
    f.doubled += r.stored.doubledLines;
    f.outOfOrder += r.stored.outOfOrder.length;
    for (const v of r.viewers) {
      f.viewerLost += v.tally.lost.length;
      f.viewerDoubled += v.tally.doubledLines;
      f.viewers++;
      f.reconnects += v.reconnects;
    }
    f.states[r.state] = (f.states[r.state] ?? 0) + 1;
  }
  return f;
}

/** The case's figures as lines, for test diagnostics. */
export function summary(result: CaseResult): string[] {
  const f = figures(result);
  const recovery = SERVICES.map((s) => `${s} ${result.recovery[s].ms === null ? '>30' : (result.recovery[s].ms! / 1000).toFixed(1)} s`).join(', ');
  return [
    `${result.name}: ${result.runs.length} runs (${Object.entries(f.states).map(([s, n]) => `${n} ${s}`).join(', ')}), ${result.refusals.length} submissions refused`,
    `lines printed ${f.printed}, stored ${f.stored}, lost ${f.lost}, doubled ${f.doubled}, out of order ${f.outOfOrder}; ${f.viewers} live viewers (${f.reconnects} reconnects) lost ${f.viewerLost}, doubled ${f.viewerDoubled}`,
    `recovery: ${recovery}${result.crashed.length ? `; crashed: ${result.crashed.join(', ')}` : ''}`,
  ];
}

/** The assertion message of a case: every problem, then the figures. */
export function verdict(result: CaseResult): string {
  return `${result.name}: ${result.problems.length} problems\n- ${result.problems.join('\n- ')}\n${summary(result).join('\n')}`;
}
