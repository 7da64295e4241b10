import { ConfigError } from '#common/config.js';
import { exitOnConfigError } from '#common/service-app.js';
import { startAllInOne } from './all-in-one.js';

let running;
try {
  running = await startAllInOne();
} catch (error) {
  if (error instanceof ConfigError) exitOnConfigError(error);
  throw error;
}
const { url } = running;
process.stdout.write(`\nScriptorium is running at ${url}\n`);
process.stdout.write(`Log in as admin: ${running.adminLogin}\n\n`);
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => void running.stop().then(() => process.exit(0)));
