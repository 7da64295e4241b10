import { runServiceProcess } from '#common/service-app.js';
import { authApp, BootstrapAdminService } from './auth.app.js';

const app = await runServiceProcess(authApp);

// Distributed mode has no launcher: show a generated first-admin password here, once, on stdout.
const generated = app.get(BootstrapAdminService).takeGeneratedPassword();
if (generated) {
  process.stdout.write(
    `\nFirst administrator created: username "${generated.username}", password "${generated.password}"\n` +
      'This password is shown only once: sign in and change it.\n\n',
  );
}
