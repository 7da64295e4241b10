// The process launcher's own process (see ProcessLauncher): spawns the scripts the
// execution service asks for and relays their output and exit over IPC. It stays
// small, so each fork is cheap; forking the service itself costs more the larger it grows.
// With a spool folder (argv[2]) it writes each run's output to the run's spool before
// relaying it, and outlives a killed service until the pipes are read to their end.
import { spawn, type ChildProcess } from 'node:child_process';
import { statSync } from 'node:fs';
import type { Readable } from 'node:stream';
import type { LauncherEvent, LauncherHold, LauncherRequest } from './process-launcher.js';
import { SpoolWriter, spoolFile } from './output-spool.js';

const spoolDir = process.argv[2];
/** After the service is gone, how long the pipes may stay open (a stray process outside the group) before the helper exits anyway. */
const DRAIN_MS = 10_000;

const children = new Map<number, ChildProcess>();
/** The scripts' pipes, and whether each waits for the IPC channel to take more. */
const readables = new Map<Readable, { congested: boolean }>();
/** The service asked to stop reading output (its outbox is full). */
let held = false;
/** The service is gone: output only goes to the spools now. */
let orphaned = false;

function hold(on: boolean) {
  held = on;
  for (const [readable, state] of readables) {
    if (on) readable.pause();
    else if (!state.congested) readable.resume();
  }
}

function send(event: LauncherEvent, sent?: () => void): boolean {
  if (!process.connected) return false;
  return process.send!(event, undefined, {}, sent);
}

function killGroup(child: ChildProcess) {
  try {
    if (child.pid) process.kill(-child.pid, 'SIGKILL');
  } catch {
    // The group is already gone.
  }
}

function launch(request: LauncherRequest) {
  const { id, command, cwd, env, executionId } = request;
  let spool: SpoolWriter | undefined;
  try {
    if (spoolDir && executionId) spool = new SpoolWriter(spoolFile(spoolDir, executionId));
  } catch (error) {
    return send({ type: 'error', id, message: `cannot open its output spool: ${(error as Error).message}` });
  }
  const warmed = request.warm ? takeWarm(request) : undefined;
  let child: ChildProcess;
  try {
    child = warmed ?? spawn(command[0], command.slice(1), { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    spool?.close();
    return send({ type: 'error', id, message: (error as Error).message });
  }
  children.set(id, child);
  for (const stream of ['stdout', 'stderr'] as const) {
    const readable = child[stream]!.setEncoding('utf8');
    const state = { congested: false };
    readables.set(readable, state);
    readable.once('close', () => readables.delete(readable));
    // A congested channel, or a hold, pauses the script's output (the script then blocks
    // on write) rather than buffering without bound here.
    readable.on('data', (data: string) => {
      // On disk before the service can have it: the spool holds at least what the service got, in order.
      spool?.append(stream, data);
      if (orphaned) return;
      const sent = () => {
        state.congested = false;
        if (!held && readable.isPaused()) readable.resume();
      };
      if (!send({ type: stream, id, data }, sent)) {
        state.congested = true;
        readable.pause();
      }
    });
    if (held) readable.pause();
  }
  if (warmed) send({ type: 'spawned', id, pid: child.pid! });
  else child.once('spawn', () => send({ type: 'spawned', id, pid: child.pid! }));
  child.once('error', (error) => {
    spool?.close();
    send({ type: 'error', id, message: error.message });
  });
  // Stray children of the script would keep the pipes open: end the whole group at exit.
  child.once('exit', () => killGroup(child));
  child.once('close', (code, signal) => {
    children.delete(id);
    spool?.close();
    send({ type: 'close', id, code, signal });
    // The next run of the same kind finds a sandbox ready. Set up after this run, not beside it: spawning blocks
    // this loop (~10 ms) and the set-up takes CPU, both of which would delay this run's output.
    if (request.warm) setImmediate(() => prepareWarm(request));
    if (orphaned && !children.size) process.exit(0);
  });
}

// ---------------------------------------------------------------- warm sandboxes
//
// Setting up a bubblewrap sandbox (namespaces, mounts, prlimit) costs about 10 ms, and
// spawning it from here blocks this loop for as long again. A run's sandbox depends only on
// its project folder, script folder and limits (the `warm.prefix` first words of its
// command), so after each sandboxed run the launcher starts the next sandbox of the same
// kind ahead of time: bwrap … prlimit … -- /bin/sh, which waits on fd 3. A run that finds
// one ready writes its environment and command there (shell-quoted; sh sets them and execs:
// the same process tree, pid and group as a cold start) instead of waiting for the setup.
// A ready sandbox is used only while every folder it binds is still the same inode (a
// folder deleted and created again is not the one it holds); unused ones end after a minute.

/** sh inside the sandbox (PWD as bwrap sets it for a cold start too; PATH from the run): reads the run's `export …; exec …` from fd 3 until EOF, closes it, runs it. */
const WARM_STUB = 'unset PATH; c=; while IFS= read -r l <&3; do c="$c$l\n"; done; exec 3<&-; eval "$c"';
const WARM_IDLE_MS = 60_000;
const WARM_KINDS = 8;

interface WarmSandbox {
  child: ChildProcess;
  /** dev:ino of every folder it binds, when it was started. */
  binds: string;
  dead: boolean;
  idle: NodeJS.Timeout;
  /** Stops listening as a ready sandbox (the run's own listeners follow). */
  unwatch: () => void;
}

/** Ready sandboxes by kind (cwd and command prefix), oldest kind first. */
const warm = new Map<string, WarmSandbox[]>();

const warmKey = ({ cwd, command, warm: w }: LauncherRequest) => JSON.stringify([cwd, command.slice(0, w!.prefix)]);
const shellQuote = (word: string) => `'${word.replaceAll("'", `'\\''`)}'`;

/** The folders a command prefix binds into the sandbox (and the working folder), as dev:ino; '' when one is missing. */
function bindIdentity(cwd: string, prefix: string[]): string {
  const paths = [cwd];
  for (let i = 0; i < prefix.length - 1; i++) if (prefix[i] === '--bind' || prefix[i] === '--ro-bind') paths.push(prefix[i + 1]);
  try {
    return paths.map((path) => {
      const stat = statSync(path);
      return `${stat.dev}:${stat.ino}`;
    }).join(' ');
  } catch {
    return '';
  }
}

function discardWarm(sandbox: WarmSandbox) {
  clearTimeout(sandbox.idle);
  sandbox.dead = true;
  killGroup(sandbox.child);
}

function prepareWarm(request: LauncherRequest) {
  if (orphaned || !request.warm || request.warm.keep <= 0) return;
  const key = warmKey(request);
  const ready = (warm.get(key) ?? []).filter((w) => !w.dead);
  if (ready.length >= request.warm.keep) return;
  const prefix = request.command.slice(0, request.warm.prefix);
  const binds = bindIdentity(request.cwd, prefix);
  if (!binds) return;
  let child: ChildProcess;
  try {
    child = spawn(prefix[0], [...prefix.slice(1), '/bin/sh', '-c', WARM_STUB], {
      cwd: request.cwd,
      env: { PATH: request.env.PATH ?? '/usr/bin:/bin' },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    });
  } catch {
    return; // the next run starts cold and reports why
  }
  const gone = () => forgetWarm(key, sandbox);
  const ignore = () => undefined;
  const sandbox: WarmSandbox = {
    child,
    binds,
    dead: false,
    idle: setTimeout(gone, WARM_IDLE_MS).unref(),
    // Nothing is expected before it is used; a sandbox that fails to set up says why and exits.
    unwatch: () => {
      child.removeListener('error', gone);
      child.removeListener('exit', gone);
      child.stdout!.removeListener('data', ignore);
      child.stderr!.removeListener('data', ignore);
    },
  };
  child.stdout!.on('data', ignore);
  child.stderr!.on('data', ignore);
  child.once('error', gone);
  child.once('exit', gone);
  (child.stdio[3] as NodeJS.WritableStream).on('error', () => undefined);
  warm.delete(key); // most recently used kind last
  warm.set(key, [...ready, sandbox]);
  for (const [oldKey, sandboxes] of warm) {
    if (warm.size <= WARM_KINDS) break;
    warm.delete(oldKey);
    sandboxes.forEach(discardWarm);
  }
}

function forgetWarm(key: string, sandbox: WarmSandbox) {
  discardWarm(sandbox);
  forgetWarmEntry(key, sandbox);
}

/** A ready sandbox for this run, told its environment and command; undefined when none is ready. */
function takeWarm(request: LauncherRequest): ChildProcess | undefined {
  const key = warmKey(request);
  const prefix = request.command.slice(0, request.warm!.prefix);
  const tail = request.command.slice(request.warm!.prefix);
  const words = [...tail, ...Object.entries(request.env).flat()];
  // What sh cannot be told exactly starts cold (the spawn then reports the problem, if any).
  if (!tail.length || words.some((w) => w.includes('\0')) || tail[0].includes('=') || Object.keys(request.env).some((k) => !/^[A-Za-z_][A-Za-z0-9_]*$/.test(k))) return undefined;
  const binds = bindIdentity(request.cwd, prefix);
  for (const sandbox of warm.get(key) ?? []) {
    if (sandbox.dead) continue;
    forgetWarmEntry(key, sandbox);
    if (sandbox.binds !== binds || sandbox.child.exitCode !== null || sandbox.child.signalCode !== null) {
      discardWarm(sandbox);
      continue;
    }
    clearTimeout(sandbox.idle);
    const { child } = sandbox;
    sandbox.unwatch();
    const exports = Object.entries(request.env).map(([name, value]) => `export ${name}=${shellQuote(value)}`);
    const script = [...exports, `exec ${tail.map(shellQuote).join(' ')}`].join('\n') + '\n';
    const control = child.stdio[3] as NodeJS.WritableStream;
    control.end(script);
    return child;
  }
  return undefined;
}

/** Removes a sandbox from the ready list without ending it (it is about to be used). */
function forgetWarmEntry(key: string, sandbox: WarmSandbox) {
  const left = (warm.get(key) ?? []).filter((w) => w !== sandbox);
  if (left.length) warm.set(key, left);
  else warm.delete(key);
}

process.on('message', (message: LauncherRequest | LauncherHold) => (message.type === 'hold' ? hold(message.hold) : launch(message)));
// A terminal's Ctrl-C reaches the whole process group: the service decides how its runs
// end (a grace period, then a stop with a reason), so this helper does not die under it.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => undefined);
// The service is gone (stopped or killed): its runs cannot be followed any more, so end them;
// what they wrote before is still in the pipes: read it into the spools, then exit.
process.on('disconnect', () => {
  orphaned = true;
  for (const sandboxes of warm.values()) sandboxes.forEach(discardWarm);
  warm.clear();
  for (const child of children.values()) killGroup(child);
  if (!spoolDir || !children.size) process.exit(0);
  for (const readable of readables.keys()) readable.resume();
  setTimeout(() => process.exit(0), DRAIN_MS).unref();
});
send({ type: 'ready' });
