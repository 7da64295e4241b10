import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { InProcessEventBus } from '#common/bus.js';
import { loadConfig } from '#common/config.js';
import { openDatabase } from '#common/database.js';
import { startServiceApp } from '#common/service-app.js';
import { startPostgres, type TestPostgres } from '../../../../test/harness/postgres.js';
import { freePort } from '../../../../test/harness/net.js';
import { AuthConfig } from '../auth.config.js';
import { authApp, BootstrapAdminService } from '../auth.app.js';
import { verifyPassword } from './passwords.js';

/** The first admin's generated password is kept in a file in the transaction that creates the admin. */
describe('bootstrap admin: INITIAL_ADMIN_PASSWORD_FILE', () => {
  let pg: TestPostgres;
  const dir = mkdtempSync(join(tmpdir(), 'scriptorium-admin-file-'));

  before(async () => {
    pg = await startPostgres();
  });
  after(async () => {
    await pg?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function startAuth(file: string) {
    const config = loadConfig(AuthConfig, {
      DATABASE_URL: pg.url, NATS_URL: 'inproc://', GRPC_LISTEN: `127.0.0.1:${await freePort()}`, HTTP_PORT: '0', INITIAL_ADMIN_PASSWORD_FILE: file,
    });
    const dataSource = await openDatabase(config.DATABASE_URL, 2, [authApp.schema]);
    const users = async () => ((await dataSource.query(`SELECT password_hash FROM auth.users`)) as { password_hash: string }[]);
    try {
      const nest = await startServiceApp(authApp, { config, dataSource, bus: new InProcessEventBus() });
      return { nest, users, stop: async () => (await nest.close(), await dataSource.destroy()) };
    } catch (error) {
      const left = await users();
      await dataSource.destroy();
      return { error: error as Error, left };
    }
  }

  it('a file that cannot be written fails the start and leaves no admin behind', async () => {
    const started = await startAuth('/dev/null/initial-admin-password');
    assert.ok('error' in started && started.error, 'the start fails');
    assert.match(started.error.message, /cannot keep the generated admin password in \/dev\/null\/initial-admin-password .*so the admin was not created/);
    assert.deepEqual(started.left, [], 'the admin was rolled back with the password nobody could keep');
  });

  it('the generated password is in the file (0600) and is the admin’s password', async () => {
    const file = join(dir, 'initial-admin-password');
    const started = await startAuth(file);
    assert.ok(!('error' in started), String((started as { error?: Error }).error));
    try {
      assert.equal(statSync(file).mode & 0o777, 0o600);
      const password = readFileSync(file, 'utf8').trim();
      const taken = started.nest.get(BootstrapAdminService).takeGeneratedPassword();
      assert.deepEqual(taken, { username: 'admin', password, file });
      const [user] = await started.users();
      assert.ok(await verifyPassword(user!.password_hash, password));
    } finally {
      await started.stop();
    }
  });
});
