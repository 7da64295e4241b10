import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ensurePortFree, lockDataDir, StartupError } from './start-up-checks.js';

describe('all-in-one start-up checks', () => {
  const dir = mkdtempSync(join(tmpdir(), 'scriptorium-checks-'));
  const lockFile = join(dir, 'scriptorium.pid');
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('a port in use is refused naming this very process as its holder; a free one passes', async () => {
    const server: Server = await new Promise((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => resolve(s));
    });
    const { port } = server.address() as { port: number };
    try {
      await assert.rejects(ensurePortFree(port, '0.0.0.0'), (error: Error) => {
        assert.ok(error instanceof StartupError);
        assert.match(error.message, new RegExp(`^Port ${port} is already in use by process ${process.pid} \\(`));
        return true;
      });
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    await ensurePortFree(port, '0.0.0.0');
  });

  it('a live holder of the data directory is named; its release frees the directory', () => {
    const lock = lockDataDir(dir);
    assert.match(readFileSync(lockFile, 'utf8'), new RegExp(`^${process.pid} \\d+\\n$`));
    assert.throws(() => lockDataDir(dir), new RegExp(`in use by another Scriptorium \\(PID ${process.pid}\\)`));
    lock.release();
    assert.equal(existsSync(lockFile), false);
  });

  it('a lock of a dead process, or of a PID now used by another process, is taken over', () => {
    const dead = spawnSync('/bin/true').pid;
    writeFileSync(lockFile, `${dead} 12345\n`);
    lockDataDir(dir).release();
    // Our PID, but another start time: the PID was reused after the holder died.
    writeFileSync(lockFile, `${process.pid} 1\n`);
    const lock = lockDataDir(dir);
    assert.match(readFileSync(lockFile, 'utf8'), new RegExp(`^${process.pid} \\d+\\n$`));
    lock.release();
  });

  it('a lock rewritten by another process is not removed by the old holder’s release', () => {
    const lock = lockDataDir(dir);
    writeFileSync(lockFile, '1 1\n');
    lock.release();
    assert.equal(readFileSync(lockFile, 'utf8'), '1 1\n');
    rmSync(lockFile);
  });
});
