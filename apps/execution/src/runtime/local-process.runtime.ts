import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { rootLogger } from '#common/logger.js';
import type { LaunchSpec } from './launch-spec.js';
import { ProcessLauncher, type LaunchedProcessEvents } from './process-launcher.js';
import { readSpool, removeSpool, spoolFile, spooledRuns, type SpooledChunk } from './output-spool.js';
import { freeLoopbackPort, loopbackPortIsFree } from './loopback-port.js';
import { ScriptRuntime, type RunHandle, type RunObserver, type RunRecovery, type SessionEndpoint, type StopReason } from './script-runtime.js';

const SAFE_PATH = '/usr/local/bin:/usr/bin:/bin';
const MB = 1024 * 1024;

export interface LocalRuntimeOptions {
  LOCAL_SANDBOX: string;
  LOCAL_SANDBOX_NETWORK: string;
  RUN_MEMORY_LIMIT_MB: number;
  RUN_CPU_LIMIT_SECONDS: number;
  RUN_FILE_SIZE_LIMIT_MB: number;
  RUN_OUTPUT_LIMIT_MB: number;
  DATA_DIR: string;
  INSTANCE_ID: string;
  /** Sandboxes of a kind (project and script folder) the launcher keeps set up ahead of the next run (0 = none; default 2). */
  LOCAL_WARM_SANDBOXES?: number;
  /** Where the launcher spools the runs' output; default DATA_DIR/output-spool/<INSTANCE_ID>. */
  OUTPUT_SPOOL_DIR?: string;
}

function onPath(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

/** Children of a process, then theirs (needs /proc/<pid>/task/<pid>/children). */
function descendants(pid: number): number[] {
  try {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    return children.flatMap((child) => [child, ...descendants(child)]);
  } catch {
    return [];
  }
}

/** Launcher helpers spooling into `spoolDir`, other than `own` (their command line is node, the helper's script, the folder). */
function previousLaunchers(spoolDir: string, own: number | undefined): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === own || pid === process.pid) continue;
    try {
      const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (args.at(-2) === spoolDir && args.some((arg) => arg.endsWith('process-launcher.process.js'))) pids.push(pid);
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}

/** The arguments with the standard `--port` value replaced. */
function withPort(args: string[], port: number): string[] {
  const at = args.indexOf('--port');
  return at < 0 ? args : [...args.slice(0, at + 1), String(port), ...args.slice(at + 2)];
}

/** Kills the process group of an orphaned run, after checking the pid still belongs to that run. */
function stopOrphanProcess(pid: number, executionId: string): boolean {
  try {
    const environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
    if (!environ.split('\0').includes(`SCRIPTORIUM_EXECUTION_ID=${executionId}`)) return false;
    process.kill(-pid, 'SIGKILL');
    return true;
  } catch {
    return false;
  }
}

const loopback = (port: number): SessionEndpoint => ({ port, upstream: `127.0.0.1:${port}`, bindAllInterfaces: false });

function commandName(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

/**
 * Runs a script as a child process in its own process group, with a clean
 * environment (secrets only as variables), its project data folder as working
 * directory, rlimits (prlimit) for memory, CPU time and file size, a cap on output,
 * and, where bubblewrap is installed, a sandbox: a read-only view of the system,
 * only the data folder writable, a private /tmp, its own pid/ipc/uts namespaces,
 * no capabilities, and uid 65534.
 */
@Injectable()
export class LocalProcessRuntime extends ScriptRuntime implements OnModuleInit, OnApplicationShutdown {
  readonly runsSurviveRestart = false;
  private readonly log = rootLogger().child({ service: 'execution', component: 'LocalProcessRuntime' });
  private readonly sandbox: boolean;
  private readonly limits: string[];
  private readonly launcher: ProcessLauncher;
  /** Each run's raw output, kept by the launcher until the run's end is handed to the bus (see output-spool.ts). */
  readonly spoolDir: string;

  constructor(private readonly options: LocalRuntimeOptions) {
    super();
    this.spoolDir = resolve(options.OUTPUT_SPOOL_DIR || join(options.DATA_DIR, 'output-spool', options.INSTANCE_ID));
    try {
      mkdirSync(this.spoolDir, { recursive: true, mode: 0o700 });
    } catch (error) {
      throw new Error(`OUTPUT_SPOOL_DIR: cannot create the output spool folder ${this.spoolDir}: ${(error as Error).message}`);
    }
    this.launcher = new ProcessLauncher({ spoolDir: this.spoolDir });
    const bwrap = onPath('bwrap');
    if (options.LOCAL_SANDBOX === 'bubblewrap' && !bwrap) {
      throw new Error('LOCAL_SANDBOX=bubblewrap but the bwrap command is not installed (Debian: apt-get install bubblewrap)');
    }
    this.sandbox = options.LOCAL_SANDBOX !== 'off' && bwrap;
    if (options.LOCAL_SANDBOX === 'auto' && !bwrap) rootLogger().warn('bubblewrap not found: local runs are not sandboxed (install bubblewrap)');
    const limits = [
      options.RUN_MEMORY_LIMIT_MB && `--data=${options.RUN_MEMORY_LIMIT_MB * MB}`,
      options.RUN_CPU_LIMIT_SECONDS && `--cpu=${options.RUN_CPU_LIMIT_SECONDS}`,
      options.RUN_FILE_SIZE_LIMIT_MB && `--fsize=${options.RUN_FILE_SIZE_LIMIT_MB * MB}`,
      '--nofile=1024',
    ].filter((x): x is string => !!x);
    this.limits = onPath('prlimit') ? ['prlimit', ...limits, '--'] : [];
  }

  /** The launcher is ready before the first run, so that run does not wait for it. */
  onModuleInit(): Promise<void> {
    return this.launcher.warmUp();
  }

  /** Ends the runs still going (their runs are found lost at the next start). */
  onApplicationShutdown(): Promise<void> {
    return this.launcher.close();
  }

  /** The launcher pauses reading the scripts' stdout/stderr, so they block on write. */
  holdOutput(hold: boolean): void {
    this.launcher.holdOutput(hold);
  }

  /**
   * Runs this replica owned before a restart cannot be re-attached (their output pipes died
   * with the old process): their processes are stopped and the runs end as `lost`, with the
   * reason. What their scripts printed is not lost with them: the launcher spooled it (see
   * output-spool.ts), and it is published again, numbered as the old process numbered it.
   */
  async recover(recovery: RunRecovery): Promise<void> {
    const runs = await recovery.ownActiveRuns();
    if (runs.length) await this.spoolsSettled();
    for (const { executionId, runtimeRef } of runs) {
      const stopped = runtimeRef ? stopOrphanProcess(Number(runtimeRef), executionId) : false;
      const reason = `the execution service restarted while the run was active; its process could not be re-attached${stopped ? ' and was stopped' : ''}`;
      await recovery.lost(executionId, reason, this.spooledOutput(executionId));
      this.cleanUp(executionId);
    }
    // Spools of runs that ended (the service was killed between their end and the spool's removal).
    const orphaned = new Set(runs.map((r) => r.executionId));
    for (const id of spooledRuns(this.spoolDir)) if (!orphaned.has(id)) this.cleanUp(id);
    if (runs.length) this.log.warn({ count: runs.length }, 'marked orphaned runs as lost');
    recovery.recovered();
  }

  /** A free loopback port, other than those of open sessions (which may not be listening yet). */
  async sessionEndpoint(_executionId: string, portsInUse: () => Promise<number[]>): Promise<SessionEndpoint> {
    return loopback(await freeLoopbackPort(new Set(await portsInUse())));
  }

  /** What the launcher read of a run (from a previous process of the service), in order; undefined when nothing was kept or it cannot be read. */
  private spooledOutput(executionId: string): SpooledChunk[] | undefined {
    try {
      return readSpool(spoolFile(this.spoolDir, executionId));
    } catch (error) {
      this.log.error({ err: error, executionId }, 'could not read the output spool of a lost run');
      return undefined;
    }
  }

  /**
   * A launcher of a previous process of the service (killed) may still be reading its runs'
   * pipes into their spools: resolves once none is left, or after `timeoutMs`.
   */
  private async spoolsSettled(timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let previous = previousLaunchers(this.spoolDir, this.launcher.helperPid);
    if (previous.length) this.log.info({ pids: previous }, 'waiting for the previous process launcher to finish spooling');
    while (previous.length && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      previous = previousLaunchers(this.spoolDir, this.launcher.helperPid);
    }
  }

  /** The run's output is with the bus: its spool goes. */
  override cleanUp(executionId: string): void {
    removeSpool(spoolFile(this.spoolDir, executionId));
  }

  get sandboxed(): boolean {
    return this.sandbox;
  }

  start(spec: LaunchSpec, observer: RunObserver): RunHandle {
    mkdirSync(spec.workingDir, { recursive: true });
    // A script that is not on this machine is written to a private temp folder, removed at exit.
    const sourceDir = existsSync(spec.scriptPath) ? undefined : mkdtempSync(join(tmpdir(), 'scriptorium-run-'));
    const scriptPath = sourceDir ? join(sourceDir, basename(spec.scriptPath) || 'script') : spec.scriptPath;
    if (sourceDir) writeFileSync(scriptPath, spec.scriptSource, { mode: 0o644 });
    let pid: number | undefined;
    let ended = false;
    let stoppedFor: StopReason | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    const killGroup = (signal: NodeJS.Signals) => {
      try {
        if (pid) process.kill(-pid, signal);
      } catch {
        // The group is already gone.
      }
    };
    // Inside bubblewrap the script is in its own session: a graceful stop signals the
    // script's processes themselves (signalling bwrap would kill them at once).
    const terminate = () => {
      if (!this.sandbox || !pid) return killGroup('SIGTERM');
      for (const descendant of descendants(pid)) {
        if (commandName(descendant) === 'bwrap') continue;
        try {
          process.kill(descendant, 'SIGTERM');
        } catch {
          // Already gone.
        }
      }
    };
    const stop = (reason: StopReason, graceSeconds: number) => {
      if (stoppedFor || ended) return;
      stoppedFor = reason;
      terminate();
      killTimer = setTimeout(() => killGroup('SIGKILL'), graceSeconds * 1000);
    };
    const timeout = setTimeout(() => stop('timeout', 5), spec.timeoutSeconds * 1000);

    const outputLimit = this.options.RUN_OUTPUT_LIMIT_MB * MB;
    let outputBytes = 0;
    const count = (chunk: string) => {
      outputBytes += Buffer.byteLength(chunk);
      if (outputLimit && outputBytes > outputLimit) stop('output_limit', 1);
    };
    const cleanUp = () => {
      ended = true;
      clearTimeout(timeout);
      clearTimeout(killTimer);
      if (sourceDir) rmSync(sourceDir, { recursive: true, force: true });
    };
    const env = {
      PATH: SAFE_PATH,
      HOME: spec.workingDir,
      LANG: 'C.UTF-8',
      PYTHONUNBUFFERED: '1',
      PYTHONDONTWRITEBYTECODE: '1',
      SCRIPTORIUM_EXECUTION_ID: spec.executionId,
      ...spec.env,
    };
    const launch = (args: string[]) => {
      if (ended) return;
      const sandbox = [...this.wrapper(spec, scriptPath), ...this.limits];
      const command = [...sandbox, spec.interpreter, scriptPath, ...args];
      // A sandboxed script on disk: its sandbox can be set up before it is asked for (a written-out source's folder is new each time).
      const keep = this.options.LOCAL_WARM_SANDBOXES ?? 2;
      const warm = this.sandbox && !sourceDir && keep > 0 ? { prefix: sandbox.length, keep } : undefined;
      this.launcher.spawn(command, { cwd: spec.workingDir, env, executionId: spec.executionId, warm }, events(command[0]));
    };
    const events = (program: string): LaunchedProcessEvents => ({
      spawned: (spawnedPid) => {
        pid = spawnedPid;
        observer.started(String(spawnedPid));
        // Stopped while it was being started: the script has done nothing yet to clean up after.
        if (stoppedFor) killGroup('SIGKILL');
      },
      stdout: (chunk) => {
        count(chunk);
        observer.stdout(chunk);
      },
      stderr: (chunk) => {
        count(chunk);
        observer.stderr(chunk);
      },
      error: (message) => {
        cleanUp();
        observer.failedToStart(`cannot start ${program}: ${message}`);
      },
      close: (exitCode, signal) => {
        cleanUp();
        if (pid) observer.exited({ exitCode, signal, stoppedFor });
      },
    });
    const session = spec.session;
    if (!session) launch(spec.args);
    else {
      this.sessionPort(session.port, observer).then(
        (port) => launch(withPort(spec.args, port)),
        (error: Error) => {
          cleanUp();
          observer.failedToStart(`no port for the interactive session: ${error.message}`);
        },
      );
    }
    return { stop };
  }

  /**
   * The port a session's script listens on: the one chosen when the run was submitted while it
   * is still free, else (a run that waited in the queue may find it taken) a new one, which the
   * proxy is told about before the script starts.
   */
  private async sessionPort(chosen: number, observer: RunObserver): Promise<number> {
    if (await loopbackPortIsFree(chosen)) return chosen;
    const port = await freeLoopbackPort(new Set([chosen]));
    await observer.sessionMoved?.(loopback(port));
    return port;
  }

  /** An interpreter installed outside /usr (e.g. /opt/python/bin/python3) must be visible in the sandbox. */
  private interpreterBind(interpreter: string): string[] {
    if (!interpreter.startsWith('/') || !existsSync(interpreter)) return [];
    const folder = dirname(realpathSync(interpreter));
    return folder === '/usr' || folder.startsWith('/usr/') ? [] : ['--ro-bind', folder, folder];
  }

  /** The bubblewrap command line for a run, or nothing when not sandboxed. */
  private wrapper(spec: LaunchSpec, scriptPath: string): string[] {
    if (!this.sandbox) return [];
    const optional = (path: string, args: string[]) => (existsSync(path) ? args : []);
    return [
      'bwrap',
      '--unshare-all',
      // An interactive script must be reachable by the session proxy on the host's loopback.
      ...(this.options.LOCAL_SANDBOX_NETWORK === 'host' || spec.session ? ['--share-net'] : []),
      '--uid', '65534', '--gid', '65534',
      '--cap-drop', 'ALL',
      '--die-with-parent',
      '--new-session',
      '--ro-bind', '/usr', '/usr',
      '--ro-bind', '/etc', '/etc',
      ...optional('/usr/lib64', ['--symlink', 'usr/lib64', '/lib64']),
      '--symlink', 'usr/lib', '/lib',
      '--symlink', 'usr/bin', '/bin',
      '--symlink', 'usr/sbin', '/sbin',
      '--proc', '/proc',
      '--dev', '/dev',
      '--tmpfs', '/tmp',
      ...this.interpreterBind(spec.interpreter),
      // The script's folder (its group), read-only, so a script can import its neighbours.
      '--ro-bind', dirname(scriptPath), dirname(scriptPath),
      '--bind', spec.workingDir, spec.workingDir,
      '--chdir', spec.workingDir,
    ];
  }
}
