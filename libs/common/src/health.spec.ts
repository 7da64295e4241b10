import assert from 'node:assert/strict';
import { createServer, connect } from 'node:net';
import { describe, it } from 'node:test';
import { runReadinessChecks } from './health.js';

/** A port nothing listens on: bound once, then closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('readiness report', () => {
  it('names each dependency that is down, without its address, URL or stack', async () => {
    const port = await closedPort();
    // A real refused connection: its message is "connect ECONNREFUSED 127.0.0.1:<port>".
    const refused = () =>
      new Promise<void>((_, reject) => connect(port, '127.0.0.1').on('error', reject));
    const report = await runReadinessChecks([
      { name: 'database', check: refused },
      { name: 'bus', label: 'message broker', check: () => Promise.reject(new Error('nats://user:secret@10.1.2.3:4222 closed')) },
      { name: 'execution', label: 'execution service', check: () => new Promise(() => undefined) },
      { name: 'auth', label: 'auth service', check: async () => undefined },
    ]);
    assert.equal(report.ready, false);
    assert.equal(report.message, 'database unavailable; message broker unavailable; execution service unavailable');
    assert.deepEqual(report.checks, [
      { name: 'database', ok: false, error: 'database unavailable' },
      { name: 'bus', ok: false, error: 'message broker unavailable' },
      { name: 'execution', ok: false, error: 'execution service unavailable' },
      { name: 'auth', ok: true },
    ]);
    const body = JSON.stringify(report);
    for (const leak of [String(port), '127.0.0.1', '10.1.2.3', 'nats://', 'secret', 'ECONNREFUSED', '    at ']) assert.ok(!body.includes(leak), `${leak} in ${body}`);
  });

  it('is ready with no message when every dependency answers', async () => {
    assert.deepEqual(await runReadinessChecks([{ name: 'database', check: async () => undefined }]), { ready: true, checks: [{ name: 'database', ok: true }] });
  });
});
