// The process launcher's own process (see ProcessLauncher): spawns the scripts the
// execution service asks for and relays their output and exit over IPC. It stays
// small, so each fork is cheap; forking the service itself costs more the larger it grows.
// With a spool folder (argv[2]) it writes each run's output to the run's spool before
// relaying it, and outlives a killed service until the pipes are read to their end.
import { spawn, type ChildProcess } from 'node:child_process';
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

function launch({ id, command, cwd, env, executionId }: LauncherRequest) {
  let spool: SpoolWriter | undefined;
  try {
    if (spoolDir && executionId) spool = new SpoolWriter(spoolFile(spoolDir, executionId));
  } catch (error) {
    return send({ type: 'error', id, message: `cannot open its output spool: ${(error as Error).message}` });
  }
  let child: ChildProcess;
  try {
    child = spawn(command[0], command.slice(1), { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
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
  child.once('spawn', () => send({ type: 'spawned', id, pid: child.pid! }));
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
    if (orphaned && !children.size) process.exit(0);
  });
}

process.on('message', (message: LauncherRequest | LauncherHold) => (message.type === 'hold' ? hold(message.hold) : launch(message)));
// A terminal's Ctrl-C reaches the whole process group: the service decides how its runs
// end (a grace period, then a stop with a reason), so this helper does not die under it.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => undefined);
// The service is gone (stopped or killed): its runs cannot be followed any more, so end them;
// what they wrote before is still in the pipes: read it into the spools, then exit.
process.on('disconnect', () => {
  orphaned = true;
  for (const child of children.values()) killGroup(child);
  if (!spoolDir || !children.size) process.exit(0);
  for (const readable of readables.keys()) readable.resume();
  setTimeout(() => process.exit(0), DRAIN_MS).unref();
});
send({ type: 'ready' });
