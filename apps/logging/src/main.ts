import { runServiceProcess } from '#common/service-app.js';
import { loggingApp } from './logging.app.js';

await runServiceProcess(loggingApp);
