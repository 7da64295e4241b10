import { runServiceProcess } from '#common/service-app.js';
import { backupApp } from './backup.app.js';

await runServiceProcess(backupApp);
