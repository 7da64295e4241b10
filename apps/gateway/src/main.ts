import { loadConfig } from '#common/config.js';
import { exitOnConfigError } from '#common/service-app.js';
import { GatewayConfig } from './gateway.config.js';
import { startGateway } from './gateway.app.js';

let config: GatewayConfig;
try {
  config = loadConfig(GatewayConfig, process.env);
} catch (error) {
  exitOnConfigError(error);
}
const app = await startGateway(config);
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => void app.close().then(() => process.exit(0)));
