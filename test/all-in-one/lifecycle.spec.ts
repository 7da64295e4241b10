import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Api } from '../harness/api.js';
import { freePort, waitFor } from '../harness/net.js';
import { login } from '../harness/stack.js';

const ROOT = resolve(import.meta.dirname, '../../..');
const GRACE_SECONDS = 3;

interface Product {
  child: ChildProcess;
  url: string;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

/**
 * The real `npm start` process (node dist/apps/all-in-one/src/main.js), in its own process
 * group as a terminal starts it, so a signal can go to the whole group as Ctrl-C sends it.
 * `viaNpm` runs it through npm itself, with the package.json start line minus its build step
 * (done already) in a folder linking this build: npm, then sh exec-ing node.
 */
function launch(dataDir: string, port: number, env: Record<string, string> = {}, viaNpm = false): Product {
  const command = viaNpm ? ['npm', 'start', '--silent'] : [process.execPath, 'dist/apps/all-in-one/src/main.js'];
  const child = spawn(command[0]!, command.slice(1), {
    cwd: viaNpm ? npmFolder(dataDir) : ROOT,
    detached: true,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      LOG_LEVEL: 'info',
      PORT: String(port),
      HOST: '127.0.0.1',
      SCRIPTORIUM_DATA_DIR: dataDir,
      SHUTDOWN_GRACE_SECONDS: String(GRACE_SECONDS),
      RUN_SUBMISSIONS_PER_MINUTE: '10000',
      SCRIPT_GROUPS_DIR: join(ROOT, 'script_groups'),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() })),
  );
  return { child, url: `http://127.0.0.1:${port}`, output: () => output, exited };
}

/** A folder where `npm start` runs the project's start line once its build step is done (this build, linked). */
function npmFolder(dataDir: string): string {
  const folder = join(resolve(dataDir, '..'), 'npm');
  if (existsSync(folder)) return folder;
  const line = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start;
  const [build, rest] = line.split(/\s*&&\s*(.*)/s);
  assert.match(build!, /npm run build/);
  mkdirSync(folder);
  writeFileSync(join(folder, 'package.json'), JSON.stringify({ name: 'scriptorium-start', private: true, scripts: { start: rest } }));
  symlinkSync(join(ROOT, 'dist'), join(folder, 'dist'));
  return folder;
}

async function ready(product: Product): Promise<Product> {
  await waitFor(
    async () => {
      if (product.child.exitCode !== null || product.child.signalCode !== null) throw new Error(`exited before it was ready:\n${product.output()}`);
      if (!product.output().includes('Scriptorium is running at')) return false;
      return (await fetch(`${product.url}/readyz`).catch(() => undefined))?.ok;
    },
    90_000,
    `the product to be ready; output:\n${product.output().slice(-3000)}`,
  );
  return product;
}

function processGroup(pgid: number): number[] {
  const ps = spawnSync('ps', ['-o', 'pid=', '-g', String(pgid)], { encoding: 'utf8' });
  return ps.stdout.split('\n').map((s) => Number(s.trim())).filter((pid) => pid > 0);
}

/** The private socket folder the instance logged its gRPC servers at. */
function socketDir(product: Product): string {
  const match = /"grpc":"unix:([^"]+)\/[a-z]+\.sock"/.exec(product.output());
  assert.ok(match, 'the services log their socket paths');
  return match[1]!;
}

async function execution(api: Api, id: string) {
  const res = await api.get(`/api/v1/executions/${id}`);
  assert.equal(res.status, 200);
  return res.body;
}

async function logText(api: Api, id: string): Promise<string> {
  const res = await api.get(`/api/v1/executions/${id}/log?format=text`);
  return res.status === 200 ? String(res.body ?? '') : '';
}

describe('all-in-one start-up and shutdown (npm start)', { concurrency: false }, () => {
  // One data directory for every case: each start on it is a restart of the same product.
  const dataDir = join(mkdtempSync(join(tmpdir(), 'scriptorium-lifecycle-')), 'data');
  let port: number;
  let product: Product;
  let password: string;
  const started: Product[] = [];
  const start = async (env?: Record<string, string>, viaNpm = false) => {
    product = launch(dataDir, port, env, viaNpm);
    started.push(product);
    return ready(product);
  };

  before(async () => {
    port = await freePort();
  });
  after(async () => {
    for (const p of started) {
      if (p.child.exitCode === null && p.child.signalCode === null) {
        try {
          process.kill(-p.child.pid!, 'SIGKILL');
        } catch {
          // Gone.
        }
      }
    }
    rmSync(resolve(dataDir, '..'), { recursive: true, force: true });
  });

  test('first start: the generated admin password is printed and kept in a file only its owner can read', async () => {
    await start({ MAX_CONCURRENT_RUNS: '2' }); // so that a third run waits queued
    const file = join(dataDir, 'initial-admin-password');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    password = readFileSync(file, 'utf8').trim();
    assert.ok(password.length >= 12, 'a generated password');
    assert.ok(product.output().includes(`password "${password}"`), 'the same password is printed');
    assert.ok(product.output().includes(file), 'the start message says where it is kept');
    await login(product.url, 'admin', password);
  });

  test('a second instance on the same data directory is refused, naming the first one’s PID', async () => {
    const second = launch(dataDir, await freePort());
    started.push(second);
    const { code } = await second.exited;
    assert.equal(code, 1, second.output());
    assert.match(second.output(), new RegExp(`data directory ${dataDir.replace(/[/\\.]/g, '\\$&')} is in use by another Scriptorium \\(PID ${product.child.pid}\\)`));
    // The first one still serves, its data intact.
    await login(product.url, 'admin', password);
  });

  test('a busy port: exit 1 with a message naming the port and its process, nothing created', async () => {
    const fresh = join(resolve(dataDir, '..'), 'never-created');
    const other = launch(fresh, port);
    started.push(other);
    const { code } = await other.exited;
    assert.equal(code, 1, other.output());
    assert.match(other.output(), new RegExp(`Port ${port} is already in use by process ${product.child.pid} \\(\\S*node dist/apps/all-in-one/src/main\\.js\\)`));
    assert.equal(existsSync(fresh), false, 'no data directory, database or admin was created');
  });

  test('a bad SHUTDOWN_GRACE_SECONDS is a configuration error before anything is created', async () => {
    const fresh = join(resolve(dataDir, '..'), 'bad-config');
    const bad = launch(fresh, await freePort(), { SHUTDOWN_GRACE_SECONDS: 'soon' });
    started.push(bad);
    assert.equal((await bad.exited).code, 78, bad.output());
    assert.match(bad.output(), /SHUTDOWN_GRACE_SECONDS must be an integer number of seconds \(got "soon"\)/);
    assert.equal(existsSync(fresh), false);
  });

  test('SIGTERM with runs in progress: one finishing within the grace succeeds whole, the other ends cancelled, a queued one stays queued; exit 0', async (t) => {
    const api = new Api(product.url, await login(product.url, 'admin', password));
    const long = await api.run('getting_started/countdown.py', { seconds: 120 });
    const short = await api.run('getting_started/countdown.py', { seconds: 3 });
    const queued = await api.run('getting_started/countdown.py', { seconds: 1 });
    assert.equal(queued.state, 'queued', 'both slots are taken');
    await waitFor(async () => (await logText(api, long.id)).includes('119.0 s left'), 30_000, 'the long run’s output');
    const signalled = Date.now();
    process.kill(product.child.pid!, 'SIGTERM');
    const { code, at } = await product.exited;
    assert.equal(code, 0, product.output());
    const stopSeconds = (at - signalled) / 1000;
    assert.ok(stopSeconds < GRACE_SECONDS + 6, `stopped in ${stopSeconds} s (grace ${GRACE_SECONDS} s)`);
    t.diagnostic(`SIGTERM with 2 active runs: exited after ${stopSeconds} s (grace ${GRACE_SECONDS} s)`);
    assert.equal(processGroup(product.child.pid!).length, 0, 'no process of the product is left');
    assert.doesNotMatch(product.output(), /ECONNRESET|EPIPE|unhandled/i);

    // A lock left by a process that is gone (as after a power cut) does not block the next start.
    const dead = spawnSync('/bin/true').pid;
    writeFileSync(join(dataDir, 'scriptorium.pid'), `${dead} 1\n`);
    await start();
    assert.equal(readFileSync(join(dataDir, 'scriptorium.pid'), 'utf8').split(' ')[0], String(product.child.pid), 'the stale lock was taken over');

    const after = new Api(product.url, await login(product.url, 'admin', password));
    const longRun = await execution(after, long.id);
    assert.equal(longRun.state, 'cancelled');
    assert.equal(longRun.stateReason, 'the platform was stopped');
    const longLog = await logText(after, long.id);
    assert.match(longLog, /^120\.0 s left\n119\.5 s left\n119\.0 s left\n/, 'its output up to the stop is stored, from the first line');
    assert.match(longLog, /Stopped by signal 15\n/, 'the script was asked to stop (SIGTERM) and could clean up');
    assert.match(longLog, /Run cancelled: the platform was stopped\n$/);
    const shortRun = await execution(after, short.id);
    assert.equal(shortRun.state, 'succeeded', JSON.stringify(shortRun));
    assert.equal(shortRun.exitCode, 0);
    assert.equal(await logText(after, short.id), '3.0 s left\n2.5 s left\n2.0 s left\n1.5 s left\n1.0 s left\n0.5 s left\n');
    // Not started during the shutdown although a slot was free: it runs after the restart.
    const kept = await waitFor(async () => {
      const run = await execution(after, queued.id);
      return run.state === 'succeeded' && run;
    }, 30_000, 'the queued run to run after the restart');
    assert.ok(new Date(kept.startedAt).getTime() > at, 'it started after the restart, not during the shutdown');
  });

  test('Ctrl-C in the terminal of `npm start` (SIGINT to npm, node and helpers): the run ends cancelled, nothing left behind', async (t) => {
    // Stop the previous instance, then start through npm.
    process.kill(product.child.pid!, 'SIGTERM');
    assert.equal((await product.exited).code, 0);
    await start({}, true);
    const sockets = socketDir(product);
    assert.ok(existsSync(sockets));
    const api = new Api(product.url, await login(product.url, 'admin', password));
    const run = await api.run('getting_started/countdown.py', { seconds: 120 });
    await waitFor(async () => (await logText(api, run.id)).includes('119.5 s left'), 30_000, 'the run’s output');
    const signalled = Date.now();
    process.kill(-product.child.pid!, 'SIGINT');
    const { code, at } = await product.exited;
    assert.equal(code, 0, product.output());
    assert.ok((at - signalled) / 1000 < GRACE_SECONDS + 6, `stopped in ${(at - signalled) / 1000} s`);
    t.diagnostic(`SIGINT to the group with 1 active run: exited after ${(at - signalled) / 1000} s`);
    assert.equal(processGroup(product.child.pid!).length, 0, 'the embedded database and the launcher ended too');
    assert.equal(existsSync(sockets), false, 'the socket folder is removed');
    assert.equal(existsSync(join(dataDir, 'scriptorium.pid')), false, 'the lock is released');
    assert.doesNotMatch(product.output(), /ECONNRESET|EPIPE|unhandled/i);

    await start({}, true);
    const after = new Api(product.url, await login(product.url, 'admin', password));
    const final = await execution(after, run.id);
    assert.equal(final.state, 'cancelled');
    assert.equal(final.stateReason, 'the platform was stopped');
    assert.match(await logText(after, run.id), /^120\.0 s left\n119\.5 s left\n[\s\S]*Run cancelled: the platform was stopped\n$/);
  });

  test('idle SIGTERM to the npm process: exit 0 at once, no process, socket folder or lock left', async (t) => {
    const sockets = socketDir(product);
    const signalled = Date.now();
    process.kill(product.child.pid!, 'SIGTERM'); // npm's own PID, as `kill <pid of npm start>`
    const { code, at } = await product.exited;
    assert.equal(code, 0, product.output());
    assert.ok(at - signalled < 5000, `stopped in ${at - signalled} ms`);
    t.diagnostic(`idle SIGTERM to npm: exited after ${at - signalled} ms`);
    assert.equal(processGroup(product.child.pid!).length, 0);
    assert.equal(existsSync(sockets), false);
    assert.equal(existsSync(join(dataDir, 'scriptorium.pid')), false);
    assert.doesNotMatch(product.output(), /ECONNRESET|EPIPE|unhandled|error/i);
  });

  test('a second Ctrl-C more than a second after the first stops at once, still leaving no process or folder', async () => {
    await start();
    const sockets = socketDir(product);
    const api = new Api(product.url, await login(product.url, 'admin', password));
    const run = await api.run('getting_started/countdown.py', { seconds: 120 });
    await waitFor(async () => (await logText(api, run.id)).includes('120.0 s left'), 30_000, 'the run’s output');
    process.kill(-product.child.pid!, 'SIGINT');
    await new Promise((r) => setTimeout(r, 300));
    process.kill(-product.child.pid!, 'SIGINT'); // within a second: the same press, ignored
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(product.child.exitCode, null, 'still in its grace period');
    const signalled = Date.now();
    process.kill(-product.child.pid!, 'SIGINT');
    const { code, at } = await product.exited;
    assert.equal(code, 1);
    assert.ok(at - signalled < 1000, `exited ${at - signalled} ms after the second Ctrl-C`);
    assert.match(product.output(), /Stopping at once/);
    await waitFor(() => processGroup(product.child.pid!).length === 0, 10_000, 'the embedded database and the launcher to end with it');
    assert.equal(existsSync(sockets), false);
    assert.equal(existsSync(join(dataDir, 'scriptorium.pid')), false);
  });
});
