import { createServer } from 'node:net';

/**
 * A TCP port free on loopback right now (listen on 0, read it, close). The script binds
 * it moments later; `avoid` holds ports already handed to open sessions that may not be
 * listening yet.
 */
export async function freeLoopbackPort(avoid: ReadonlySet<number> = new Set()): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.unref();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
    });
    if (!avoid.has(port)) return port;
  }
  throw new Error('no free loopback port found');
}

/** True when nothing listens on the loopback port now. */
export function loopbackPortIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}
