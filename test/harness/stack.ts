import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort, waitFor } from './net.js';
import { startNats, startPostgres, type TestNats, type TestPostgres } from './postgres.js';

export const ADMIN_PASSWORD = 'test-admin-password-1';
const ROOT = resolve(import.meta.dirname, '../../..');
const SERVICES = ['auth', 'catalog', 'logging', 'execution', 'backup'] as const;

export interface RunningStack {
  /** Base URL of the gateway, e.g. http://127.0.0.1:41234 */
  url: string;
  dataDir: string;
  processes: Map<string, ChildProcess>;
  /** Output of every process, for failure messages. */
  output(): string;
  /** Kills one process (e.g. execution, to test restarts) and returns once it exited. */
  kill(name: string, signal?: NodeJS.Signals): Promise<void>;
  /** Starts a killed process again with the same environment, plus `env` overrides. */
  restart(name: string, env?: Record<string, string>): Promise<void>;
  stop(): Promise<void>;
}

interface ProcessSpec {
  name: string;
  script: string;
  env: Record<string, string>;
}

function launch(spec: ProcessSpec, log: string[]): ChildProcess {
  const child = spawn(process.execPath, [join(ROOT, spec.script)], {
    cwd: ROOT,
    // Tests submit many runs quickly; the ones about the rate limit set their own.
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', LOG_LEVEL: 'warn', RUN_SUBMISSIONS_PER_MINUTE: '10000', ...spec.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const keep = (chunk: Buffer) => {
    log.push(`[${spec.name}] ${chunk.toString()}`);
    if (log.length > 2000) log.splice(0, 1000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  return child;
}

async function waitReady(url: string, log: string[], processes: Map<string, ChildProcess>, timeoutMs = 60_000) {
  await waitFor(
    async () => {
      const dead = [...processes].find(([, child]) => child.exitCode !== null || child.signalCode !== null);
      if (dead) throw new Error(`${dead[0]} exited (${dead[1].exitCode ?? dead[1].signalCode}) before the stack was ready:\n${log.join('').slice(-4000)}`);
      try {
        return (await fetch(`${url}/readyz`)).ok;
      } catch {
        return false;
      }
    },
    timeoutMs,
    `${url}/readyz; output so far:\n${log.join('').slice(-4000)}`,
  );
}

/** Waits for the stack; when it never gets ready, stops its processes, which would otherwise outlive the test run and keep it from ending. */
async function readyOrStopped(running: RunningStack, url: string, log: string[]) {
  try {
    await waitReady(url, log, running.processes);
  } catch (error) {
    await running.stop();
    throw error;
  }
}

function stack(url: string, dataDir: string, specs: ProcessSpec[], log: string[], cleanup: () => Promise<void>): RunningStack {
  const processes = new Map(specs.map((s) => [s.name, launch(s, log)]));
  const exited = (child: ChildProcess) =>
    child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise<void>((r) => child.once('exit', () => r()));
  return {
    url,
    dataDir,
    processes,
    output: () => log.join(''),
    async kill(name, signal = 'SIGKILL') {
      const child = processes.get(name)!;
      child.kill(signal);
      await exited(child);
    },
    async restart(name, env = {}) {
      const spec = specs.find((s) => s.name === name)!;
      spec.env = { ...spec.env, ...env };
      processes.set(name, launch(spec, log));
    },
    async stop() {
      for (const child of processes.values()) child.kill('SIGTERM');
      await Promise.race([Promise.all([...processes.values()].map(exited)), new Promise((r) => setTimeout(r, 5000))]);
      for (const child of processes.values()) child.kill('SIGKILL');
      await cleanup();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** `npm start` as a user runs it: one process, embedded database, in-process bus. */
export async function startAllInOneProcess(extraEnv: Record<string, string> = {}): Promise<RunningStack> {
  const dataDir = mkdtempSync(join(tmpdir(), 'scriptorium-aio-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const log: string[] = [];
  const env = { PORT: String(port), SCRIPTORIUM_DATA_DIR: dataDir, BOOTSTRAP_ADMIN_PASSWORD: ADMIN_PASSWORD, ...extraEnv };
  const running = stack(url, dataDir, [{ name: 'all-in-one', script: 'dist/apps/all-in-one/src/main.js', env }], log, async () => undefined);
  await readyOrStopped(running, url, log);
  return running;
}

/** Where a distributed service answers: its health endpoint (when asked for) and its gRPC address. */
export interface ServiceEndpoints {
  /** Base URL of /healthz and /readyz; for the gateway its public URL; '' unless `healthPorts` was set. */
  healthUrl: string;
  /** host:port of its gRPC server ('' for the gateway). */
  grpcUrl: string;
}

export interface DistributedOptions {
  /** Give every service its own HTTP health port (the default 0 disables it), e.g. to time its recovery. */
  healthPorts?: boolean;
}

/** Each app its own process over a real PostgreSQL and a real NATS, as in a cluster. */
export async function startDistributed(
  extraEnv: Record<string, string> = {},
  options: DistributedOptions = {},
): Promise<RunningStack & { postgres: TestPostgres; nats: TestNats; services: Record<string, ServiceEndpoints> }> {
  const [postgres, nats] = await Promise.all([startPostgres(), startNats()]);
  const dataDir = mkdtempSync(join(tmpdir(), 'scriptorium-dist-'));
  const grpcPorts = Object.fromEntries(await Promise.all(SERVICES.map(async (s) => [s, await freePort()] as const)));
  const httpPort = await freePort();
  const healthPorts = Object.fromEntries(await Promise.all(SERVICES.map(async (s) => [s, options.healthPorts ? await freePort() : 0] as const)));
  const peers = Object.fromEntries(SERVICES.map((s) => [`${s.toUpperCase()}_GRPC_URL`, `127.0.0.1:${grpcPorts[s]}`]));
  const common = { DATABASE_URL: postgres.url, NATS_URL: nats.url, ...peers, ...extraEnv };
  const specs: ProcessSpec[] = SERVICES.map((s) => ({
    name: s,
    script: `dist/apps/${s}/src/main.js`,
    env: {
      ...common,
      GRPC_LISTEN: `127.0.0.1:${grpcPorts[s]}`,
      HTTP_PORT: String(healthPorts[s]),
      DATA_DIR: dataDir,
      BACKUP_SOURCE_DIR: join(dataDir, 'projects'),
      BACKUP_DIR: join(dataDir, 'backups'),
      BOOTSTRAP_ADMIN_PASSWORD: ADMIN_PASSWORD,
    },
  }));
  specs.push({ name: 'gateway', script: 'dist/apps/gateway/src/main.js', env: { ...common, HTTP_PORT: String(httpPort), HTTP_HOST: '127.0.0.1' } });
  const log: string[] = [];
  const url = `http://127.0.0.1:${httpPort}`;
  const running = stack(url, dataDir, specs, log, async () => {
    await Promise.all([postgres.stop(), nats.stop()]);
  });
  await readyOrStopped(running, url, log);
  const services: Record<string, ServiceEndpoints> = Object.fromEntries(
    SERVICES.map((s) => [s, { healthUrl: healthPorts[s] ? `http://127.0.0.1:${healthPorts[s]}` : '', grpcUrl: `127.0.0.1:${grpcPorts[s]}` }]),
  );
  services.gateway = { healthUrl: url, grpcUrl: '' };
  return Object.assign(running, { postgres, nats, services });
}

/** Logs in over REST and returns the access token. */
export async function login(url: string, username = 'admin', password = ADMIN_PASSWORD): Promise<string> {
  const res = await fetch(`${url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
  if (!res.ok) throw new Error(`login failed: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { accessToken: string }).accessToken;
}
