import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { LaunchSpec } from './launch-spec.js';
import { LocalProcessRuntime, type LocalRuntimeOptions } from './local-process.runtime.js';
import { SpoolWriter, spoolFile } from './output-spool.js';
import type { OutputChunk, RunExit, RunRecovery, StopReason } from './script-runtime.js';
import { freeLoopbackPort } from './loopback-port.js';

const PYTHON = '/usr/bin/python3';
const root = mkdtempSync(join(tmpdir(), 'local-runtime-'));
after(() => rmSync(root, { recursive: true, force: true }));

const defaults: LocalRuntimeOptions = {
  LOCAL_SANDBOX: 'auto',
  LOCAL_SANDBOX_NETWORK: 'host',
  RUN_MEMORY_LIMIT_MB: 512,
  RUN_CPU_LIMIT_SECONDS: 60,
  RUN_FILE_SIZE_LIMIT_MB: 10,
  RUN_OUTPUT_LIMIT_MB: 10,
  DATA_DIR: root,
  INSTANCE_ID: 'test',
};

let counter = 0;
/** Runs a Python source through the runtime and collects what a dispatcher would see. */
function run(source: string, options: Partial<LocalRuntimeOptions> = {}, extra: Partial<LaunchSpec> & { stopAfterMs?: number; stopReason?: StopReason; stopAtOnce?: boolean; graceSeconds?: number } = {}) {
  const runtime = new LocalProcessRuntime({ ...defaults, ...options });
  const dir = join(root, `run-${++counter}`);
  const spec: LaunchSpec = {
    executionId: `00000000-0000-4000-8000-${String(counter).padStart(12, '0')}`,
    interpreter: PYTHON,
    scriptPath: join(root, `missing-${counter}`, 'script.py'),
    scriptSource: source,
    args: [],
    env: { SCRIPTORIUM_SECRET_TOKEN: 'hunter2' },
    workingDir: dir,
    timeoutSeconds: 30,
    ...extra,
  };
  let stdout = '';
  let stderr = '';
  const movedTo: number[] = [];
  return {
    runtime,
    dir,
    movedTo,
    result: new Promise<{ stdout: string; stderr: string; exit: RunExit }>((resolve, reject) => {
      const handle = runtime.start(spec, {
        started: () => {
          if (extra.stopAfterMs !== undefined) setTimeout(() => handle.stop(extra.stopReason ?? 'cancelled', 2), extra.stopAfterMs);
        },
        stdout: (chunk) => (stdout += chunk),
        stderr: (chunk) => (stderr += chunk),
        exited: (exit) => resolve({ stdout, stderr, exit }),
        failedToStart: (message) => reject(new Error(message)),
        sessionMoved: async ({ port }) => {
          movedTo.push(port);
        },
      });
      if (extra.stopAtOnce) handle.stop(extra.stopReason ?? 'cancelled', extra.graceSeconds ?? 2);
    }),
  };
}

describe('local process runtime', () => {
  test('a script gets a clean environment: secrets as variables, none of the service\'s own', async () => {
    process.env.DATABASE_URL_FOR_TEST = 'postgres://secret@db';
    const { result } = run('import os\nprint(sorted(os.environ.keys()))\nprint(os.environ["SCRIPTORIUM_SECRET_TOKEN"])');
    const { stdout, exit } = await result;
    assert.equal(exit.exitCode, 0);
    assert.doesNotMatch(stdout, /DATABASE_URL_FOR_TEST/);
    assert.match(stdout, /hunter2/);
  });

  test('the sandbox shows a read-only system and only the data folder writable', { skip: !existsSync('/usr/bin/bwrap') && 'bubblewrap is not installed' }, async () => {
    const { runtime, dir, result } = run(
      [
        'import os',
        'print("uid", os.getuid())',
        'print("sees /root", os.path.exists("/root"), "sees /work", os.path.exists("/work"))',
        'open("out.txt", "w").write("kept")',
        'try:\n    open("/usr/evil", "w")\n    print("wrote /usr")\nexcept OSError as e:\n    print("no /usr write")',
      ].join('\n'),
    );
    assert.equal(runtime.sandboxed, true);
    const { stdout, exit } = await result;
    assert.equal(exit.exitCode, 0, stdout);
    assert.match(stdout, /uid 65534/);
    assert.match(stdout, /sees \/root False sees \/work False/);
    assert.match(stdout, /no \/usr write/);
    assert.equal(readFileSync(join(dir, 'out.txt'), 'utf8'), 'kept');
  });

  test('a graceful stop lets the script clean up, in or out of the sandbox', async () => {
    for (const sandbox of ['auto', 'off']) {
      const source = 'import signal, sys, time\ndef bye(*a):\n    print("cleaning up", flush=True)\n    sys.exit(143)\nsignal.signal(signal.SIGTERM, bye)\nprint("ready", flush=True)\ntime.sleep(30)';
      const { result } = run(source, { LOCAL_SANDBOX: sandbox }, { stopAfterMs: 400 });
      const { stdout, exit } = await result;
      assert.match(stdout, /cleaning up/, `sandbox ${sandbox}`);
      assert.equal(exit.stoppedFor, 'cancelled');
    }
  });

  test('a run stopped before its process is up is stopped as soon as it is', async () => {
    const started = performance.now();
    const { result } = run('import time\ntime.sleep(20)', {}, { stopAtOnce: true, graceSeconds: 10 });
    const { exit } = await result;
    assert.equal(exit.stoppedFor, 'cancelled');
    assert.ok(performance.now() - started < 5000, 'it was asked to stop at once, not killed after the 10 s grace period');
  });

  test('CPU time, output and timeout limits stop a run', async () => {
    const cpu = await run('while True:\n    pass', { RUN_CPU_LIMIT_SECONDS: 1 }).result;
    assert.notEqual(cpu.exit.exitCode, 0);
    assert.ok(cpu.exit.signal === 'SIGKILL' || cpu.exit.signal === 'SIGXCPU' || (cpu.exit.exitCode ?? 0) > 128, JSON.stringify(cpu.exit));

    const output = await run('import sys\nwhile True:\n    sys.stdout.write("x" * 1000 + "\\n")', { RUN_OUTPUT_LIMIT_MB: 1 }).result;
    assert.equal(output.exit.stoppedFor, 'output_limit');
    assert.ok(output.stdout.length < 3 * 1024 * 1024);

    const slow = await run('import time\ntime.sleep(30)', {}, { timeoutSeconds: 1 }).result;
    assert.equal(slow.exit.stoppedFor, 'timeout');
  });

  test('background children of a script do not outlive it', async () => {
    const marker = join(root, 'child-pid');
    const { result } = run(`import subprocess\np = subprocess.Popen(["sleep", "30"])\nopen(${JSON.stringify(marker)}, "w").write(str(p.pid))`, { LOCAL_SANDBOX: 'off' });
    await result;
    const pid = Number(readFileSync(marker, 'utf8'));
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z'), false, 'the background child was killed');
  });

  test('an interactive run keeps its port while free; one taken meanwhile is replaced, and the session told first', async () => {
    const printArgs = 'import sys\nprint(" ".join(sys.argv[1:]))';
    const session = (port: number) => ({ args: ['--port', String(port), '--theme', 'dark'], session: { sessionId: 's-1', port, bindAllInterfaces: false } });
    const free = await freeLoopbackPort();
    const kept = run(printArgs, {}, session(free));
    assert.equal((await kept.result).stdout.trim(), `--port ${free} --theme dark`);
    assert.deepEqual(kept.movedTo, []);

    // Another program took the port while the run waited in the queue.
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    const taken = (squatter.address() as AddressInfo).port;
    try {
      const moved = run(printArgs, {}, session(taken));
      const [, given, ...rest] = (await moved.result).stdout.trim().split(' ');
      assert.notEqual(Number(given), taken);
      assert.deepEqual(rest, ['--theme', 'dark']);
      assert.deepEqual(moved.movedTo, [Number(given)], 'the session learns the new port before the script starts');
    } finally {
      squatter.close();
    }
  });

  test('a script given only as source runs from a private folder that is removed afterwards', async () => {
    const { dir, result } = run('import sys\nprint(sys.argv[0])');
    const { stdout } = await result;
    const path = stdout.trim();
    assert.ok(!path.startsWith(dir), 'not written into the data folder');
    assert.equal(existsSync(path), false);
    writeFileSync(join(root, 'unused'), '');
  });
  test('a script on disk starts in a sandbox set up ahead of time, with the same environment, arguments and exit code as a cold start', { skip: !existsSync('/usr/bin/bwrap') && 'bubblewrap is not installed' }, async () => {
    const scripts = mkdtempSync(join(root, 'warm-scripts-'));
    const script = join(scripts, 'env.py');
    // How long ago its process was forked (exec keeps the start time), in clock ticks; its environment and arguments; a file in the data folder.
    writeFileSync(script, [
      'import os, sys',
      'ticks = lambda pid: int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[19])',
      'print(round(float(open("/proc/uptime").read().split()[0]) * os.sysconf("SC_CLK_TCK")) - ticks("self"))',
      'print(sorted(os.environ.items()))',
      'print(sys.argv[1:])',
      'open("written", "w").write("x")',
      'sys.exit(3)',
    ].join('\n'));
    const runtime = new LocalProcessRuntime({ ...defaults });
    const workingDir = join(root, 'warm-data');
    const once = (n: number) =>
      new Promise<{ lines: string[]; exit: RunExit }>((resolve, reject) => {
        let stdout = '';
        runtime.start(
          {
            executionId: `00000000-0000-4000-8000-${String(900 + n).padStart(12, '0')}`,
            interpreter: PYTHON,
            scriptPath: script,
            scriptSource: '',
            args: ['--name', "it's a\nline", '$HOME', ''],
            env: { SCRIPTORIUM_SECRET_TOKEN: "hun'ter\n2 $(x)" },
            workingDir,
            timeoutSeconds: 30,
          },
          { started: () => {}, stdout: (c) => (stdout += c), stderr: () => {}, exited: (exit) => resolve({ lines: stdout.trim().split('\n'), exit }), failedToStart: (m) => reject(new Error(m)) },
        );
      });
    try {
      const cold = await once(1);
      await new Promise((r) => setTimeout(r, 500));
      const warm = await once(2);
      for (const { lines, exit } of [cold, warm]) {
        assert.equal(exit.exitCode, 3);
        assert.ok(existsSync(join(workingDir, 'written')));
      }
      assert.ok(Number(cold.lines[0]) < 20, `cold: the sandbox was set up for the run (forked ${cold.lines[0]} ticks before)`);
      assert.ok(Number(warm.lines[0]) >= 20, `warm: the sandbox was ready before the run (forked ${warm.lines[0]} ticks before)`);
      const same = (lines: string[]) => lines.slice(1).map((l) => l.replace(/0000000009\d\d/, 'ID'));
      assert.deepEqual(same(warm.lines), same(cold.lines));
      assert.match(warm.lines[1], /hun'ter\\n2 \$\(x\)/);
      assert.match(warm.lines[2], /"it's a\\nline", '\$HOME', ''\]/);
      // A data folder deleted and made again is not the one a ready sandbox holds: the run starts cold and writes into the new one.
      await new Promise((r) => setTimeout(r, 500));
      rmSync(workingDir, { recursive: true, force: true });
      const fresh = await once(3);
      assert.ok(Number(fresh.lines[0]) < 20, `after the folder was replaced the run starts cold (${fresh.lines[0]} ticks)`);
      assert.ok(existsSync(join(workingDir, 'written')));
    } finally {
      await runtime.onApplicationShutdown();
    }
  });

  test('after a restart, a run of the previous process ends lost with the output its launcher spooled; spools of runs that ended go', async () => {
    const runtime = new LocalProcessRuntime({ ...defaults, LOCAL_SANDBOX: 'off', INSTANCE_ID: 'recover-spec' });
    const active = '00000000-0000-4000-8000-00000000a001';
    const ended = '00000000-0000-4000-8000-00000000a002';
    for (const [id, text] of [[active, 'printed before the restart\n'], [ended, 'of a run that ended\n']]) {
      const writer = new SpoolWriter(spoolFile(runtime.spoolDir, id));
      writer.append('stdout', text);
      writer.append('stderr', 'and a warning\n');
      writer.close();
    }
    const lost: { id: string; reason: string; kept?: OutputChunk[] }[] = [];
    let recovered = false;
    const unused = () => Promise.reject(new Error('not for a runtime whose runs end with the service'));
    const recovery: RunRecovery = {
      ownActiveRuns: async () => [{ executionId: active, runtimeRef: null }],
      resume: unused,
      lost: async (id, reason, kept) => void lost.push({ id, reason, kept }),
      recovered: () => (recovered = true),
      heartbeat: unused,
      adoptRunsOfDeadReplicas: unused,
      releaseRunsAdoptedElsewhere: unused,
      endedRuns: unused,
    };
    await runtime.recover(recovery);
    assert.equal(lost.length, 1);
    assert.equal(lost[0].id, active);
    assert.match(lost[0].reason, /restarted while the run was active/);
    assert.deepEqual(lost[0].kept, [
      { stream: 'stdout', data: 'printed before the restart\n' },
      { stream: 'stderr', data: 'and a warning\n' },
    ]);
    assert.ok(recovered, 'new runs may be claimed once recovery is done');
    assert.ok(!existsSync(spoolFile(runtime.spoolDir, active)) && !existsSync(spoolFile(runtime.spoolDir, ended)), 'both spools are removed');
    await runtime.onApplicationShutdown();
  });
});
