// The embedded database's own process (see startEmbeddedPostgres): PGlite on the data
// folder given as argument, served on a free loopback port, reported to the parent over IPC.
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

const dataDir = process.argv[2];
// A terminal's Ctrl-C (SIGINT to the whole process group) or a SIGTERM to the group must
// not end the database under the parent: the parent stops it last, after its own
// connections closed ('stop' below), or its death closes the IPC channel.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => undefined);
try {
  const db = await PGlite.create({ dataDir });
  const server = new PGLiteSocketServer({ db, port: 0, host: '127.0.0.1' });
  await server.start();
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await server.stop();
    await db.close(); // flushes the data folder
    process.exit(0);
  };
  process.on('message', (message) => message === 'stop' && void stop());
  // The parent died without asking: close cleanly rather than leave a half-written folder.
  process.on('disconnect', () => void stop());
  process.send!({ url: `postgres://postgres@${server.getServerConn()}/postgres` });
} catch (error) {
  process.send!({ error: (error as Error).message });
  process.exit(1);
}
