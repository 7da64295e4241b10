import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitFor } from './net.js';

export type PostgresStopMode = 'smart' | 'fast' | 'immediate';

export interface TestPostgres {
  url: string;
  /** Stops the server as an operator would (`pg_ctl stop -m mode`); the data stays. */
  shutdown(mode: PostgresStopMode): Promise<void>;
  /** Starts it again on the same port and data. */
  start(): Promise<void>;
  /** shutdown, `downMs` with no server, start. */
  restart(options: { mode: PostgresStopMode; downMs: number }): Promise<void>;
  stop(): Promise<void>;
}

/** Finds initdb/pg_ctl: on PATH, or in Debian's versioned folder. */
function pgBin(name: string): string {
  for (const dir of ['/usr/lib/postgresql/17/bin', '/usr/lib/postgresql/16/bin', '/usr/lib/postgresql/15/bin']) {
    if (existsSync(join(dir, name))) return join(dir, name);
  }
  return name;
}

const asPostgres = process.getuid?.() === 0;
function run(bin: string, args: string[]) {
  const [cmd, argv] = asPostgres ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
  return execFileSync(cmd, argv, { stdio: 'pipe' });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A throw-away PostgreSQL server on a free loopback port (initdb + pg_ctl into a temp dir).
 * fsync is off for speed, but commits are synchronous: a server stopped with `-m immediate`
 * keeps every transaction it acknowledged, as a real one does.
 */
export async function startPostgres(): Promise<TestPostgres> {
  const dir = mkdtempSync(join(tmpdir(), 'scriptorium-pg-'));
  chmodSync(dir, 0o777);
  const data = join(dir, 'data');
  const port = await freePort();
  run(pgBin('initdb'), ['-D', data, '--auth=trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
  const start = () => run(pgBin('pg_ctl'), [
    '-D', data, '-l', join(dir, 'log'), '-w',
    '-o', `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c fsync=off -c synchronous_commit=on -c full_page_writes=off -c max_connections=200`,
    'start',
  ]);
  start();
  let running = true;
  const shutdown = async (mode: PostgresStopMode) => {
    if (!running) return;
    run(pgBin('pg_ctl'), ['-D', data, '-m', mode, '-w', 'stop']);
    running = false;
  };
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  return {
    url,
    shutdown,
    async start() {
      if (running) return;
      start();
      running = true;
    },
    async restart({ mode, downMs }) {
      await shutdown(mode);
      await sleep(downMs);
      start();
      running = true;
    },
    async stop() {
      try {
        if (running) run(pgBin('pg_ctl'), ['-D', data, '-m', 'immediate', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

export interface TestNats {
  url: string;
  /**
   * Stops the server (SIGTERM), waits `downMs`, starts it again on the same port and JetStream
   * store (`wipe`: with an empty store, as a broker whose volume was lost).
   */
  restart(options: { downMs: number; wipe?: boolean }): Promise<void>;
  stop(): Promise<void>;
}

/** A throw-away nats-server with JetStream on a free loopback port. */
export async function startNats(): Promise<TestNats> {
  const dir = mkdtempSync(join(tmpdir(), 'scriptorium-nats-'));
  const port = await freePort();
  const accepts = () => import('node:net').then(({ connect }) => new Promise<boolean>((resolve) => {
    const socket = connect(port, '127.0.0.1', () => { socket.end(); resolve(true); });
    socket.on('error', () => resolve(false));
  }));
  const launch = async () => {
    const server = spawn('nats-server', ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', dir], { stdio: 'ignore' });
    await waitFor(accepts, 5000, 'nats-server to accept connections');
    return server;
  };
  const halt = async (server: ChildProcess) => {
    if (server.exitCode !== null || server.signalCode !== null) return;
    const exited = new Promise((r) => server.once('exit', r));
    server.kill('SIGTERM');
    await exited;
  };
  let child = await launch();
  return {
    url: `nats://127.0.0.1:${port}`,
    async restart({ downMs, wipe = false }) {
      await halt(child);
      if (wipe) rmSync(join(dir, 'jetstream'), { recursive: true, force: true });
      await sleep(downMs);
      child = await launch();
    },
    async stop() {
      await halt(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
