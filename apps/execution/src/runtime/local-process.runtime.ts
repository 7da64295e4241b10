import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Injectable } from '@nestjs/common';
import type { LaunchSpec } from './launch-spec.js';
import { ScriptRuntime, type RunHandle, type RunObserver, type StopReason } from './script-runtime.js';

const SAFE_PATH = '/usr/local/bin:/usr/bin:/bin';

/**
 * Runs a script as a child process in its own process group, with a clean
 * environment and its project data folder as working directory.
 */
@Injectable()
export class LocalProcessRuntime extends ScriptRuntime {
  start(spec: LaunchSpec, observer: RunObserver): RunHandle {
    mkdirSync(spec.workingDir, { recursive: true });
    const scriptPath = existsSync(spec.scriptPath) ? spec.scriptPath : this.writeSource(spec);
    const child = spawn(spec.interpreter, [scriptPath, ...spec.args], {
      cwd: spec.workingDir,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: SAFE_PATH,
        HOME: spec.workingDir,
        LANG: 'C.UTF-8',
        PYTHONUNBUFFERED: '1',
        PYTHONDONTWRITEBYTECODE: '1',
        SCRIPTORIUM_EXECUTION_ID: spec.executionId,
        ...spec.env,
      },
    });
    let stoppedFor: StopReason | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    const killGroup = (signal: NodeJS.Signals) => {
      try {
        if (child.pid) process.kill(-child.pid, signal);
      } catch {
        // The group is already gone.
      }
    };
    const stop = (reason: StopReason, graceSeconds: number) => {
      if (stoppedFor || child.exitCode !== null) return;
      stoppedFor = reason;
      killGroup('SIGTERM');
      killTimer = setTimeout(() => killGroup('SIGKILL'), graceSeconds * 1000);
    };
    const timeout = setTimeout(() => stop('timeout', 5), spec.timeoutSeconds * 1000);

    child.stdout.setEncoding('utf8').on('data', (chunk: string) => observer.stdout(chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => observer.stderr(chunk));
    child.once('spawn', () => observer.started(String(child.pid)));
    child.once('error', (error) => {
      clearTimeout(timeout);
      observer.failedToStart(`cannot start ${spec.interpreter}: ${error.message}`);
    });
    // Stray children of the script would keep the pipes open: end the whole group at exit.
    child.once('exit', () => killGroup('SIGKILL'));
    child.once('close', (exitCode, signal) => {
      clearTimeout(timeout);
      clearTimeout(killTimer);
      if (child.pid) observer.exited({ exitCode, signal, stoppedFor });
    });
    return { stop };
  }

  private writeSource(spec: LaunchSpec): string {
    const dir = join(spec.workingDir, '.scriptorium');
    mkdirSync(dir, { recursive: true });
    const path = join(dir, `${spec.executionId}-${spec.scriptPath.split('/').pop()}`);
    writeFileSync(path, spec.scriptSource, { mode: 0o600 });
    return path;
  }
}
