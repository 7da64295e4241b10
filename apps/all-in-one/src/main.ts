import { ConfigError } from '#common/config.js';
import { rootLogger } from '#common/logger.js';
import { exitOnConfigError } from '#common/service-app.js';
import { startAllInOne, type AllInOne } from './all-in-one.js';
import { StartupError } from './start-up-checks.js';

/** A second Ctrl-C this long after the first stops at once (a terminal may deliver one press twice). */
const FORCE_AFTER_MS = 1000;

let running: AllInOne | undefined;
let stopping: Promise<void> | undefined;
let firstSignalAt = 0;

// Registered before start-up, so a signal then still ends in an orderly stop.
const starting = startAllInOne();
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) {
      if (Date.now() - firstSignalAt < FORCE_AFTER_MS) return;
      process.stderr.write('Stopping at once.\n');
      running?.abandon();
      process.exit(1);
    }
    firstSignalAt = Date.now();
    process.stdout.write(`\nStopping Scriptorium (${signal}); press Ctrl-C again to stop at once.\n`);
    stopping = starting
      .then((started) => started.stop())
      .then(
        () => process.exit(0),
        (error: unknown) => {
          if (running) rootLogger().error({ err: error }, 'the stop failed');
          process.exit(1);
        },
      );
  });
}

try {
  running = await starting;
} catch (error) {
  if (error instanceof ConfigError) exitOnConfigError(error);
  if (error instanceof StartupError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
  throw error;
}
if (!stopping) {
  process.stdout.write(`\nScriptorium is running at ${running.url}\n`);
  process.stdout.write(`Log in as admin: ${running.adminLogin}\n\n`);
}
