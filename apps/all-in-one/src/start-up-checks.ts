import { readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

/** A start-up refused for a reason the operator can fix: printed as is, exit 1. */
export class StartupError extends Error {}

/**
 * Checks that the HTTP port can be listened on, before anything is created (database,
 * first admin, folders). Names the process holding it when /proc tells.
 */
export async function ensurePortFree(port: number, host: string): Promise<void> {
  if (port === 0) return;
  const error = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
    const server = createServer();
    server.once('error', resolve);
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
  if (!error) return;
  if (error.code === 'EADDRINUSE') {
    const holder = portHolder(port);
    throw new StartupError(
      `Port ${port} is already in use${holder ? ` by process ${holder.pid} (${holder.command})` : ''}: stop that process, or start Scriptorium on another port with PORT=<port>.`,
    );
  }
  if (error.code === 'EACCES') throw new StartupError(`Port ${port} cannot be used by this user (ports below 1024 need privileges): set PORT to another port.`);
  if (error.code === 'EADDRNOTAVAIL') throw new StartupError(`HOST ${host} is not an address of this machine: set HOST to one of its addresses (or 0.0.0.0).`);
  throw error;
}

/** The process listening on a TCP port, from /proc (Linux; only processes this user may inspect). */
function portHolder(port: number): { pid: number; command: string } | undefined {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      // local_address is HEXIP:HEXPORT; state 0A is LISTEN; field 9 is the socket's inode.
      if (fields.length > 9 && fields[3] === '0A' && parseInt(fields[1]!.split(':')[1]!, 16) === port) inodes.add(`socket:[${fields[9]}]`);
    }
  }
  if (!inodes.size) return undefined;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue; // another user's process
    }
    for (const fd of fds) {
      let target: string;
      try {
        target = readlinkSync(`/proc/${entry}/fd/${fd}`);
      } catch {
        continue;
      }
      if (inodes.has(target)) return { pid: Number(entry), command: commandLine(Number(entry)) };
    }
  }
  return undefined;
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ').slice(0, 200) || '?';
  } catch {
    return '?';
  }
}

/** When a process started (clock ticks since boot, /proc/<pid>/stat field 22): tells a reused PID apart. */
function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command (field 2) is in parentheses and may contain spaces: count from after it.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function alive(pid: number, started: string | undefined): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const now = startTime(pid);
  return !started || !now || now === started;
}

export interface DataDirLock {
  release(): void;
}

/**
 * One instance per data directory: a lock file with the holder's PID (and start time).
 * A lock left by a process that is gone is taken over; a live holder is named.
 */
export function lockDataDir(dataDir: string): DataDirLock {
  const path = join(dataDir, 'scriptorium.pid');
  const mine = `${process.pid} ${startTime(process.pid) ?? ''}\n`;
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(path, mine, { flag: 'wx', mode: 0o644 });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 3) throw error;
    }
    let holder = '';
    try {
      holder = readFileSync(path, 'utf8');
    } catch {
      continue; // released meanwhile
    }
    const [pid, started] = holder.trim().split(' ');
    if (Number(pid) > 0 && alive(Number(pid), started || undefined)) {
      throw new StartupError(
        `The data directory ${dataDir} is in use by another Scriptorium (PID ${pid}): stop it first, or give this one another directory with SCRIPTORIUM_DATA_DIR.`,
      );
    }
    // A half-written lock (empty) or one of a dead process: take it over. Two starts taking
    // over the same stale lock in the same instant could both win; the port check before
    // (same port) and the rarity (after a crash, two starts within microseconds) make that acceptable.
    rmSync(path, { force: true });
  }
  return {
    release() {
      try {
        if (readFileSync(path, 'utf8') === mine) rmSync(path, { force: true });
      } catch {
        // Already gone.
      }
    },
  };
}
