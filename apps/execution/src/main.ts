import { runServiceProcess } from '#common/service-app.js';
import { executionApp } from './execution.app.js';

await runServiceProcess(executionApp);
