import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import { currentRequestId, runWithRequestId } from '#common/request-context.js';
import { readSpool, spoolFile } from './output-spool.js';
import { ProcessLauncher, type LaunchedProcessEvents, type LauncherEvent } from './process-launcher.js';

const root = mkdtempSync(join(tmpdir(), 'launcher-spec-'));
after(() => rmSync(root, { recursive: true, force: true }));

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function waitUntil(condition: () => boolean, what: string, ms = 5000) {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Spawns through a launcher and records what it reports. */
function launch(launcher: ProcessLauncher, command: string[]) {
  const seen = { pid: 0, stdout: '', stderr: '', error: '', close: undefined as { code: number | null; signal: string | null } | undefined };
  const closed = new Promise<typeof seen>((resolve) => {
    const events: LaunchedProcessEvents = {
      spawned: (pid) => (seen.pid = pid),
      stdout: (chunk) => (seen.stdout += chunk),
      stderr: (chunk) => (seen.stderr += chunk),
      error: (message) => {
        seen.error = message;
        resolve(seen);
      },
      close: (code, signal) => {
        seen.close = { code, signal };
        resolve(seen);
      },
    };
    launcher.spawn(command, { cwd: '/', env: { PATH: '/usr/bin:/bin' } }, events);
  });
  return { seen, closed };
}

describe('process launcher', () => {
  test('a helper started during a request does not carry that request into later runs (their output is logged without its id)', async () => {
    const launcher = new ProcessLauncher();
    try {
      await runWithRequestId('request-that-started-the-helper', () => launch(launcher, ['/bin/true']).closed);
      let requestIdInOutput: string | undefined = 'not called';
      await new Promise<void>((resolve) => {
        launcher.spawn(['/bin/echo', 'later'], { cwd: '/', env: { PATH: '/usr/bin:/bin' } }, {
          spawned: () => undefined,
          stdout: () => (requestIdInOutput = currentRequestId()),
          stderr: () => undefined,
          error: () => resolve(),
          close: () => resolve(),
        });
      });
      assert.equal(requestIdInOutput, undefined);
    } finally {
      await launcher.close();
    }
  });

  test('held, the output of running and newly started processes is not read (they block on write); released, all of it comes', async () => {
    const launcher = new ProcessLauncher();
    try {
      const writer = ['/usr/bin/python3', '-c', 'import sys, time\nfor i in range(1, 100001):\n    sys.stdout.write(f"{i:07d}\\n")\n    if i % 1000 == 0: time.sleep(0.03)'];
      const running = launch(launcher, writer);
      await waitUntil(() => running.seen.stdout.length > 0, 'the first process writes');
      launcher.holdOutput(true);
      const later = launch(launcher, writer);
      await new Promise((resolve) => setTimeout(resolve, 500)); // what was on its way arrives
      const held = [running.seen.stdout.length, later.seen.stdout.length];
      await new Promise((resolve) => setTimeout(resolve, 1000));
      assert.deepEqual([running.seen.stdout.length, later.seen.stdout.length], held, 'nothing is read while held');
      assert.ok(held[0]! < 800_000 && held[1]! < 800_000, 'neither process got to its end');
      launcher.holdOutput(false);
      const expected = Array.from({ length: 100_000 }, (_, i) => `${String(i + 1).padStart(7, '0')}\n`).join('');
      for (const run of [running, later]) {
        const seen = await run.closed;
        assert.equal(seen.close?.code, 0);
        assert.equal(seen.stdout, expected, 'every line, once, in order');
      }
    } finally {
      await launcher.close();
    }
  });

  test('relays output and the exit code of the processes it starts, one after another and side by side', async () => {
    const launcher = new ProcessLauncher();
    try {
      const results = await Promise.all(
        [1, 2, 3].map((n) => launch(launcher, ['/bin/sh', '-c', `echo out-${n}; echo err-${n} >&2; exit ${n}`]).closed),
      );
      for (const [i, r] of results.entries()) {
        assert.equal(r.stdout, `out-${i + 1}\n`);
        assert.equal(r.stderr, `err-${i + 1}\n`);
        assert.deepEqual(r.close, { code: i + 1, signal: null });
        assert.ok(r.pid > 0);
      }
      const missing = await launch(launcher, ['/no/such/command']).closed;
      assert.match(missing.error, /ENOENT/);
    } finally {
      await launcher.close();
    }
  });

  test('when its helper dies, the processes it carried end as killed and the next start gets a new helper', async () => {
    const launcher = new ProcessLauncher();
    try {
      const running = launch(launcher, ['/bin/sleep', '30']);
      await waitUntil(() => running.seen.pid > 0, 'the sleep started');
      // The helper is the sleep's parent (field 4 of /proc/<pid>/stat).
      const helperPid = Number(readFileSync(`/proc/${running.seen.pid}/stat`, 'utf8').split(') ')[1].split(' ')[1]);
      assert.notEqual(helperPid, process.pid);
      process.kill(helperPid, 'SIGKILL');
      const ended = await running.closed;
      assert.deepEqual(ended.close, { code: null, signal: 'SIGKILL' });
      const next = await launch(launcher, ['/bin/echo', 'still working']).closed;
      assert.equal(next.stdout, 'still working\n');
      process.kill(running.seen.pid, 'SIGKILL'); // its group outlived the killed helper; not the launcher's to clean any more
    } finally {
      await launcher.close();
    }
  });

  test('the helper ends every process it started when the service goes away', async () => {
    const helper = fork(fileURLToPath(new URL('./process-launcher.process.js', import.meta.url)), [], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'advanced',
      execArgv: [],
    });
    const pids: number[] = [];
    helper.on('message', (event: LauncherEvent) => event.type === 'spawned' && pids.push(event.pid));
    await new Promise((resolve) => helper.once('message', resolve)); // ready
    // A script that leaves a background child behind: the whole group must go.
    helper.send({ id: 1, command: ['/bin/sh', '-c', 'sleep 30 & echo $! ; wait'], cwd: '/', env: { PATH: '/usr/bin:/bin' } });
    const grandchild = await new Promise<number>((resolve) =>
      helper.on('message', (event: LauncherEvent) => event.type === 'stdout' && resolve(Number(event.data.trim()))),
    );
    assert.ok(alive(pids[0]) && alive(grandchild));
    const exited = new Promise((resolve) => helper.once('exit', resolve));
    helper.disconnect();
    await exited;
    await waitUntil(() => !alive(pids[0]) && !alive(grandchild), 'the script and its background child are gone');
  });

  test('killed with its service, the helper still spools every byte a fast script wrote', { timeout: 60_000 }, async () => {
    const spoolDir = join(root, 'spool');
    const executionId = '00000000-0000-4000-8000-00000000f100';
    const progress = join(root, 'written');
    // After each write to stdout returned, the script notes how many lines it wrote.
    const script = [
      'import os, sys',
      `fd = os.open(${JSON.stringify(progress)}, os.O_WRONLY | os.O_CREAT)`,
      'i = 0',
      'while True:',
      '    i += 1',
      '    sys.stdout.write(f"{i:08d} {\'x\' * 60}\\n")',
      '    os.pwrite(fd, f"{i:012d}".encode(), 0)',
    ].join('\n');
    // The "service": a node process that runs a launcher with a spool and reports the output it got.
    const service = join(root, 'service.mjs');
    writeFileSync(
      service,
      `import { mkdirSync } from 'node:fs';
       import { ProcessLauncher } from ${JSON.stringify(new URL('./process-launcher.js', import.meta.url).href)};
       mkdirSync(${JSON.stringify(spoolDir)}, { recursive: true });
       const launcher = new ProcessLauncher({ spoolDir: ${JSON.stringify(spoolDir)} });
       let received = 0;
       launcher.spawn(['/usr/bin/python3', '-u', '-c', ${JSON.stringify(script)}], { cwd: '/', env: { PATH: '/usr/bin:/bin' }, executionId: ${JSON.stringify(executionId)} }, {
         spawned: (pid) => process.send({ pid }),
         // Past 1 MB the service holds the output, so the pipe fills up: what is in it when the
         // service dies was written and never relayed.
         stdout: (chunk) => { received += chunk.length; process.send({ received }); if (received > 1_000_000) launcher.holdOutput(true); },
         stderr: () => {}, error: (message) => process.send({ error: message }), close: () => {},
       });`,
    );
    const parent = fork(service, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] });
    let scriptPid = 0;
    let received = 0;
    parent.on('message', (m: { pid?: number; received?: number; error?: string }) => {
      if (m.error) throw new Error(m.error);
      if (m.pid) scriptPid = m.pid;
      if (m.received) received = m.received;
    });
    await waitUntil(() => received > 1_000_000, 'the script printed 1 MB', 30_000);
    let lastWritten = -1;
    await waitUntil(() => {
      const written = Number(readFileSync(progress, 'utf8'));
      const blocked = written === lastWritten;
      lastWritten = written;
      return blocked;
    }, 'the script blocks on a full pipe', 10_000);
    const helperPid = Number(readFileSync(`/proc/${scriptPid}/stat`, 'utf8').split(') ')[1].split(' ')[1]);
    assert.ok(alive(helperPid) && helperPid !== parent.pid);
    const exited = new Promise((resolve) => parent.once('exit', resolve));
    parent.kill('SIGKILL');
    await exited;
    await waitUntil(() => !alive(helperPid) && !alive(scriptPid), 'the helper read the pipes to their end and exited', 15_000);

    const chunks = readSpool(spoolFile(spoolDir, executionId))!;
    assert.ok(chunks.every((c) => c.stream === 'stdout'));
    const spooled = chunks.map((c) => c.data).join('');
    const written = Number(readFileSync(progress, 'utf8'));
    const lines = spooled.split('\n');
    lines.pop(); // a line cut by the kill
    assert.ok(lines.length >= written, `every line whose write returned is spooled (${lines.length} spooled, ${written} written)`);
    lines.forEach((line, i) => assert.equal(line, `${String(i + 1).padStart(8, '0')} ${'x'.repeat(60)}`, `line ${i + 1} spooled once, in order`));
    assert.ok(spooled.length > received, `the spool holds what the service received and what was still in the pipe (${spooled.length} > ${received})`);
  });
});
