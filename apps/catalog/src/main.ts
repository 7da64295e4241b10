import { runServiceProcess } from '#common/service-app.js';
import { catalogApp } from './catalog.app.js';

await runServiceProcess(catalogApp);
