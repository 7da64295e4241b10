import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createSign } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { INestApplication } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import jwt from 'jsonwebtoken';
import { TokenVerifier, VerificationKeySource } from '#common/auth.js';
import { InProcessEventBus } from '#common/bus.js';
import { loadConfig } from '#common/config.js';
import { fieldErrorsOf } from '#common/errors.js';
import { openDatabase } from '#common/database.js';
import { PROTO_ROOT } from '#common/paths.js';
import { startServiceApp } from '#common/service-app.js';
import type { LoginResponse, User } from '#contracts/generated/scriptorium/auth/v1/auth.js';
import { Subjects } from '#contracts/subjects.js';
import { startPostgres, type TestPostgres } from '../../../test/harness/postgres.js';
import { freePort } from '../../../test/harness/net.js';
import { AuthConfig } from './auth.config.js';
import { authApp, BootstrapAdminService } from './auth.app.js';
import { KeyStoreVerificationKeySource } from './keys/key-store.service.js';
import { LoginThrottle } from './tokens/login-throttle.service.js';

process.env.LOG_LEVEL ??= 'warn';

type Call = (request: object, metadata: grpc.Metadata, callback: (err: grpc.ServiceError | null, res: unknown) => void) => void;
type Client = grpc.Client & Record<string, Call>;

interface Started {
  nest: INestApplication;
  dataSource: DataSource;
  client: Client;
  bus: InProcessEventBus;
  stop(): Promise<void>;
}

const definition = protoLoader.loadSync(join(PROTO_ROOT, 'scriptorium/auth/v1/auth.proto'), {
  keepCase: false, longs: Number, enums: String, defaults: true, oneofs: true, arrays: true, includeDirs: [PROTO_ROOT],
});
const AuthService = (grpc.loadPackageDefinition(definition) as any).scriptorium.auth.v1.AuthService as grpc.ServiceClientConstructor;

async function startAuth(dbUrl: string, env: Record<string, string> = {}): Promise<Started> {
  const port = await freePort();
  const config = loadConfig(AuthConfig, {
    DATABASE_URL: dbUrl, NATS_URL: 'inproc://', GRPC_LISTEN: `127.0.0.1:${port}`, HTTP_PORT: '0', ...env,
  });
  const dataSource = await openDatabase(config.DATABASE_URL, 4, [authApp.schema]);
  const bus = new InProcessEventBus();
  const nest = await startServiceApp(authApp, { config, dataSource, bus });
  const client = new AuthService(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as Client;
  return {
    nest, dataSource, client, bus,
    async stop() {
      client.close();
      await nest.close();
      if (dataSource.isInitialized) await dataSource.destroy();
    },
  };
}

function call<T>(client: Client, method: string, request: object, token?: string): Promise<T> {
  const metadata = new grpc.Metadata();
  if (token) metadata.set('authorization', `Bearer ${token}`);
  return new Promise((resolve, reject) => client[method](request, metadata, (err, res) => (err ? reject(err) : resolve(res as T))));
}

/** Login as if forwarded by the gateway for the client at `address`. */
function loginFrom(client: Client, address: string, username: string, password: string): Promise<LoginResponse> {
  const metadata = new grpc.Metadata();
  metadata.set('x-forwarded-for', address);
  return new Promise((resolve, reject) => client.login({ username, password }, metadata, (err, res) => (err ? reject(err) : resolve(res as LoginResponse))));
}

/** How long the promise took to settle, in ms. */
async function timed(promise: Promise<unknown>): Promise<number> {
  const start = performance.now();
  await promise.catch(() => undefined);
  return performance.now() - start;
}

async function rejects(promise: Promise<unknown>, code: grpc.status, message?: string | RegExp): Promise<grpc.ServiceError> {
  try {
    await promise;
  } catch (error) {
    const e = error as grpc.ServiceError;
    assert.equal(e.code, code, `expected ${grpc.status[code]}, got ${grpc.status[e.code]}: ${e.details}`);
    if (typeof message === 'string') assert.equal(e.details, message);
    else if (message) assert.match(e.details, message);
    return e;
  }
  assert.fail(`expected ${grpc.status[code]}`);
}

describe('auth service', { timeout: 60_000 }, () => {
  let pg: TestPostgres;
  let auth: Started;
  let adminPassword: string;
  let adminToken: string;
  const login = (username: string, password: string) => call<LoginResponse>(auth.client, 'login', { username, password });

  before(async () => {
    pg = await startPostgres();
    auth = await startAuth(pg.url);
    const taken = auth.nest.get(BootstrapAdminService).takeGeneratedPassword();
    assert.ok(taken, 'a first start on an empty database generates the admin password');
    adminPassword = taken.password;
    adminToken = (await login('admin', adminPassword)).accessToken;
  });

  after(async () => {
    await auth?.stop();
    await pg?.stop();
  });

  describe('bootstrap admin', () => {
    it('was created once with a generated password handed out only once', () => {
      const service = auth.nest.get(BootstrapAdminService);
      assert.equal(adminPassword.length, 20);
      assert.deepEqual(service.result, { created: true, username: 'admin' });
      assert.equal(service.takeGeneratedPassword(), undefined);
    });

    it('a second start does not create another admin or change the password', async () => {
      const second = await startAuth(pg.url, { BOOTSTRAP_ADMIN_PASSWORD: 'another password 123', BOOTSTRAP_ADMIN_USERNAME: 'root' });
      try {
        const service = second.nest.get(BootstrapAdminService);
        assert.deepEqual(service.result, { created: false, username: 'root' });
        assert.equal(service.takeGeneratedPassword(), undefined);
        const [{ count }] = await second.dataSource.query(`SELECT count(*)::int AS count FROM auth.users WHERE level = 'admin'`);
        assert.equal(count, 1);
        // Both replicas publish the same single key.
        const a = await call<{ keys: { kid: string }[] }>(auth.client, 'getVerificationKeys', {});
        const b = await call<{ keys: { kid: string }[] }>(second.client, 'getVerificationKeys', {});
        assert.deepEqual(b.keys.map((k) => k.kid), a.keys.map((k) => k.kid));
        assert.equal(a.keys.length, 1);
      } finally {
        await second.stop();
      }
      assert.equal((await login('admin', adminPassword)).user?.username, 'admin');
      await rejects(login('admin', 'another password 123'), grpc.status.UNAUTHENTICATED);
    });
  });

  describe('login', () => {
    it('returns an access token, a refresh token and the user', async () => {
      const res = await login('ADMIN', adminPassword);
      assert.equal(res.expiresIn, 900);
      assert.match(res.refreshToken, /^srt_/);
      assert.equal(res.user?.level, 'admin');
      assert.equal(res.user?.language, 'en');
      const header = jwt.decode(res.accessToken, { complete: true })?.header;
      assert.equal(header?.alg, 'RS256');
      assert.ok(header?.kid);
    });

    it('answers a wrong password and an unknown username the same way', async () => {
      await rejects(login('admin', 'wrong password!!'), grpc.status.UNAUTHENTICATED, 'Invalid username or password');
      await rejects(login('nobody', 'wrong password!!'), grpc.status.UNAUTHENTICATED, 'Invalid username or password');
      await rejects(login('', ''), grpc.status.UNAUTHENTICATED, 'Invalid username or password');
    });

    it('refuses a deactivated account, and only with the right password', async () => {
      const user = await call<User>(auth.client, 'createUser', { username: 'dora', password: 'dora password 1', level: 'operator' }, adminToken);
      const session = await login('dora', 'dora password 1');
      await call(auth.client, 'updateUser', { id: user.id, active: false }, adminToken);
      await rejects(login('dora', 'dora password 1'), grpc.status.PERMISSION_DENIED, 'Account is deactivated');
      await rejects(login('dora', 'wrong password!!'), grpc.status.UNAUTHENTICATED, 'Invalid username or password');
      // Deactivation signed the user out and blocks their still-valid access token at GetMe.
      await rejects(call(auth.client, 'refresh', { refreshToken: session.refreshToken }), grpc.status.UNAUTHENTICATED);
      await rejects(call(auth.client, 'getMe', {}, session.accessToken), grpc.status.PERMISSION_DENIED, 'Account is deactivated');
    });

    it('locks an account for 15 minutes after 5 wrong passwords', async () => {
      await call<User>(auth.client, 'createUser', { username: 'lars', password: 'lars password 1' }, adminToken);
      for (let i = 0; i < 4; i++) await rejects(login('lars', 'wrong password!!'), grpc.status.UNAUTHENTICATED);
      const fifth = await rejects(login('lars', 'wrong password!!'), grpc.status.RESOURCE_EXHAUSTED, /locked for 15 more minutes/);
      assert.equal(Number(fifth.metadata.get('retry-after')[0]), 900);
      await rejects(login('lars', 'lars password 1'), grpc.status.RESOURCE_EXHAUSTED, /Too many failed sign-in attempts/);
      const { users } = await call<{ users: User[] }>(auth.client, 'listUsers', { search: 'lars' }, adminToken);
      await call(auth.client, 'resetPassword', { userId: users[0].id, newPassword: 'lars password 2' }, adminToken);
      assert.equal((await login('lars', 'lars password 2')).user?.username, 'lars');
    });

    it("wrong passwords from one address lock the account for that address only, never for its owner elsewhere", async () => {
      const user = await call<User>(auth.client, 'createUser', { username: 'nina', password: 'nina password 1' }, adminToken);
      // Someone else, behind a shared address, guessing nina's password.
      for (let i = 0; i < 4; i++) await rejects(loginFrom(auth.client, '10.7.0.1', 'nina', 'wrong password!!'), grpc.status.UNAUTHENTICATED);
      await rejects(loginFrom(auth.client, '10.7.0.1', 'nina', 'wrong password!!'), grpc.status.RESOURCE_EXHAUSTED, /locked for 15 more minutes at your address/);
      await rejects(loginFrom(auth.client, '10.7.0.1', 'nina', 'nina password 1'), grpc.status.RESOURCE_EXHAUSTED, /at your address/);
      // Nina herself, from her own address: not locked, and her success leaves the guesser's lock in place.
      assert.equal((await loginFrom(auth.client, '10.7.0.2', 'nina', 'nina password 1')).user?.id, user.id);
      await rejects(loginFrom(auth.client, '10.7.0.1', 'nina', 'nina password 1'), grpc.status.RESOURCE_EXHAUSTED, /at your address/);
      // Failures from several addresses do not add up.
      for (const address of ['10.7.1.1', '10.7.1.2', '10.7.1.3', '10.7.1.4', '10.7.1.5', '10.7.1.6']) {
        await rejects(loginFrom(auth.client, address, 'nina', 'wrong password!!'), grpc.status.UNAUTHENTICATED);
      }
      assert.equal((await loginFrom(auth.client, '10.7.0.2', 'nina', 'nina password 1')).user?.id, user.id);
    });

    it('an admin unlocks a locked account (audited), keeping its password', async () => {
      const user = await call<User>(auth.client, 'createUser', { username: 'lucy', password: 'lucy password 1' }, adminToken);
      // From an address of its own, so the per-address throttle of other tests is not involved.
      for (let i = 0; i < 4; i++) await rejects(loginFrom(auth.client, '10.9.0.1', 'lucy', 'wrong password!!'), grpc.status.UNAUTHENTICATED);
      await rejects(loginFrom(auth.client, '10.9.0.1', 'lucy', 'wrong password!!'), grpc.status.RESOURCE_EXHAUSTED, /this account is locked/);
      await rejects(loginFrom(auth.client, '10.9.0.1', 'lucy', 'lucy password 1'), grpc.status.RESOURCE_EXHAUSTED, /this account is locked for 15 more minutes at your address/);
      const viewer = await loginFrom(auth.client, '10.9.0.2', 'lars', 'lars password 2');
      await rejects(call(auth.client, 'unlockUser', { id: user.id }, viewer.accessToken), grpc.status.PERMISSION_DENIED, /requires level admin/);
      await rejects(call(auth.client, 'unlockUser', { id: user.id }), grpc.status.UNAUTHENTICATED);
      await rejects(call(auth.client, 'unlockUser', { id: '00000000-0000-0000-0000-000000000000' }, adminToken), grpc.status.NOT_FOUND);
      const unlocked = await call<{ user: User; wasLocked: boolean }>(auth.client, 'unlockUser', { id: user.id }, adminToken);
      assert.deepEqual([unlocked.user.username, unlocked.wasLocked], ['lucy', true]);
      assert.deepEqual(await auth.dataSource.query(`SELECT * FROM auth.login_locks WHERE user_id = $1`, [user.id]), []);
      assert.equal((await loginFrom(auth.client, '10.9.0.1', 'lucy', 'lucy password 1')).user?.id, user.id);
      // Unlocking an account that is not locked is fine, and says so.
      assert.equal((await call<{ wasLocked: boolean }>(auth.client, 'unlockUser', { id: user.id }, adminToken)).wasLocked, false);
      const { events } = await call<{ events: { actorUsername: string; targetId: string; outcome: string; detailsJson: string }[] }>(
        auth.client, 'listAuditEvents', { action: 'user.unlocked' }, adminToken,
      );
      const outcomes = events.map((e) => [e.outcome, e.actorUsername, e.targetId, JSON.parse(e.detailsJson).wasLocked ?? null]);
      assert.deepEqual(outcomes, [['success', 'admin', user.id, false], ['success', 'admin', user.id, true], ['failure', 'lars', '', null]]);
    });

    describe('throttling per client address', () => {
      let throttled: Started;
      before(async () => {
        // Low limits: 2 free failures, then 100 ms more per failure (at most 250 ms); the 5th locks out for 60 s.
        throttled = await startAuth(pg.url, {
          LOGIN_THROTTLE_FREE_FAILURES: '2', LOGIN_THROTTLE_DELAY_STEP_MS: '100', LOGIN_THROTTLE_MAX_DELAY_MS: '250',
          LOGIN_THROTTLE_LOCKOUT_FAILURES: '5', LOGIN_THROTTLE_LOCKOUT_SECONDS: '60',
        });
      });
      after(async () => {
        await throttled?.stop();
      });

      it('slows down failures beyond the free ones, then locks the address out', async () => {
        const fail = (address: string, name: string) =>
          timed(rejects(loginFrom(throttled.client, address, name, 'wrong password!!'), grpc.status.UNAUTHENTICATED, 'Invalid username or password'));
        // Unknown usernames: no account lock is involved, only the address counter.
        // (Only lower bounds are asserted: an upper bound on a free failure would be timing-flaky.)
        await fail('10.8.0.1', 'ghost1');
        await fail('10.8.0.1', 'ghost2');
        const third = await fail('10.8.0.1', 'ghost3');
        const fourth = await fail('10.8.0.1', 'ghost4');
        assert.ok(third >= 100, `third failure answered after ${third} ms`);
        assert.ok(fourth >= 200, `fourth failure answered after ${fourth} ms`);
        const fifth = await rejects(loginFrom(throttled.client, '10.8.0.1', 'ghost5', 'wrong password!!'), grpc.status.RESOURCE_EXHAUSTED, /from your address.*blocked for 1 more minute\. Try again after \d{4}-\d\d-\d\dT/);
        assert.equal(Number(fifth.metadata.get('retry-after')[0]), 60);
        // Locked out even with the right password; other addresses are not affected.
        const locked = await rejects(loginFrom(throttled.client, '10.8.0.1', 'admin', adminPassword), grpc.status.RESOURCE_EXHAUSTED, /from your address/);
        assert.ok(Number(locked.metadata.get('retry-after')[0]) <= 60);
        assert.equal((await loginFrom(throttled.client, '10.8.0.2', 'admin', adminPassword)).user?.username, 'admin');
        const { events } = await call<{ events: { ip: string }[] }>(auth.client, 'listAuditEvents', { action: 'auth.address_locked' }, adminToken);
        assert.deepEqual(events.map((e) => e.ip), ['10.8.0.1']);
      });

      it('grows the delay up to its cap, expires old failures and stays bounded', () => {
        const config = loadConfig(AuthConfig, {
          DATABASE_URL: 'postgres://unused', NATS_URL: 'inproc://', LOGIN_THROTTLE_FREE_FAILURES: '2', LOGIN_THROTTLE_DELAY_STEP_MS: '100',
          LOGIN_THROTTLE_MAX_DELAY_MS: '250', LOGIN_THROTTLE_LOCKOUT_FAILURES: '6', LOGIN_THROTTLE_WINDOW_SECONDS: '60', LOGIN_THROTTLE_MAX_ADDRESSES: '100',
        });
        const throttle = new LoginThrottle(config);
        const t0 = Date.now();
        assert.deepEqual([1, 2, 3, 4, 5].map((i) => throttle.recordFailure('a', `u${i}`, t0 + i).delayMs), [0, 0, 100, 200, 250]);
        // A minute later the old failures no longer count.
        assert.equal(throttle.recordFailure('a', 'u6', t0 + 61_000).delayMs, 0);
        for (let i = 0; i < 5; i++) throttle.recordFailure('b', 'x', t0);
        assert.ok(throttle.recordFailure('b', 'x', t0).lockedOut);
        assert.throws(() => throttle.check('b', t0 + 1000), /from your address/);
        throttle.check('b', t0 + 61 * 60_000); // the lockout (15 minutes by default) has ended
        for (let i = 0; i < 500; i++) throttle.recordFailure(`10.0.${i >> 8}.${i & 255}`, 'x');
        assert.equal(throttle.size, 100);
        assert.throws(() => throttle.check('b', t0 + 1000), /from your address/, 'a locked-out address is evicted last');
      });

      it('a successful login does not forgive failures against other accounts', async () => {
        const fail = (name: string) => timed(rejects(loginFrom(throttled.client, '10.8.0.3', name, 'wrong password!!'), grpc.status.UNAUTHENTICATED));
        await fail('ghost1');
        await fail('ghost2');
        assert.ok((await loginFrom(throttled.client, '10.8.0.3', 'admin', adminPassword)).accessToken);
        const third = await fail('ghost3');
        assert.ok(third >= 100, `third failure answered after ${third} ms despite the success in between`);
        // A success does forgive that same account's own failures (a mistyped password).
        await fail('admin');
        assert.ok((await loginFrom(throttled.client, '10.8.0.3', 'admin', adminPassword)).accessToken);
        const afterForgiven = await fail('ghost4');
        assert.ok(afterForgiven >= 200, `4th counted failure answered after ${afterForgiven} ms`);
      });
    });
  });

  describe('access tokens', () => {
    let verifier: TokenVerifier;
    before(() => {
      verifier = new TokenVerifier(auth.nest.get(VerificationKeySource));
    });

    it('verify with TokenVerifier and carry the claims', async () => {
      assert.ok(auth.nest.get(VerificationKeySource) instanceof KeyStoreVerificationKeySource);
      const res = await login('admin', adminPassword);
      const caller = await verifier.verify(`Bearer ${res.accessToken}`);
      assert.equal(caller.userId, res.user?.id);
      assert.equal(caller.username, 'admin');
      assert.equal(caller.level, 'admin');
      assert.equal(caller.language, 'en');
      assert.equal(caller.theme, 'light');
    });

    it('are rejected when tampered with', async () => {
      const { accessToken } = await login('admin', adminPassword);
      const [header, payload, signature] = accessToken.split('.');
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
      const forged = Buffer.from(JSON.stringify({ ...claims, level: 'admin', username: 'mallory' })).toString('base64url');
      await assert.rejects(verifier.verify(`Bearer ${header}.${forged}.${signature}`), /Invalid access token/);
      const flipped = signature.slice(0, -2) + (signature.endsWith('AA') ? 'BB' : 'AA');
      await assert.rejects(verifier.verify(`Bearer ${header}.${payload}.${flipped}`), /Invalid access token/);
      await rejects(call(auth.client, 'getMe', {}, `${header}.${forged}.${signature}`), grpc.status.UNAUTHENTICATED);
    });

    it('with alg none or a foreign key are rejected', async () => {
      const { accessToken } = await login('admin', adminPassword);
      const decoded = jwt.decode(accessToken, { complete: true })!;
      const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
      const none = `${b64({ alg: 'none', typ: 'JWT', kid: decoded.header.kid })}.${b64(decoded.payload as object)}.`;
      await assert.rejects(verifier.verify(`Bearer ${none}`), /Invalid access token/);
      await rejects(call(auth.client, 'getMe', {}, none), grpc.status.UNAUTHENTICATED);
      // HS256 signed with the public key as the secret (key-confusion attack).
      const { publicKeyPem } = (await auth.nest.get(VerificationKeySource).getKeys())[0];
      const hsHeader = b64({ alg: 'HS256', typ: 'JWT', kid: decoded.header.kid });
      const hsBody = b64(decoded.payload as object);
      const { createHmac } = await import('node:crypto');
      const hs = `${hsHeader}.${hsBody}.${createHmac('sha256', publicKeyPem).update(`${hsHeader}.${hsBody}`).digest('base64url')}`;
      await assert.rejects(verifier.verify(`Bearer ${hs}`), /Invalid access token/);
      // RS256 signed by some other key that claims the service's kid.
      const { generateKeyPairSync } = await import('node:crypto');
      const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const rsHeader = b64({ alg: 'RS256', typ: 'JWT', kid: decoded.header.kid });
      const sig = createSign('RSA-SHA256').update(`${rsHeader}.${hsBody}`).sign(other.privateKey).toString('base64url');
      await assert.rejects(verifier.verify(`Bearer ${rsHeader}.${hsBody}.${sig}`), /Invalid access token/);
    });

    it('GetVerificationKeys is public and lists RS256 keys', async () => {
      const res = await call<{ keys: { kid: string; algorithm: string; publicKeyPem: string }[]; issuer: string }>(auth.client, 'getVerificationKeys', {});
      assert.equal(res.issuer, 'scriptorium');
      assert.equal(res.keys[0].algorithm, 'RS256');
      assert.match(res.keys[0].publicKeyPem, /BEGIN PUBLIC KEY/);
    });

    it('GetMe needs a token and re-reads the user', async () => {
      await rejects(call(auth.client, 'getMe', {}), grpc.status.UNAUTHENTICATED, /Missing bearer token/);
      const { accessToken } = await login('admin', adminPassword);
      const me = await call<User>(auth.client, 'getMe', {}, accessToken);
      assert.equal(me.username, 'admin');
      const updated = await call<User>(auth.client, 'updatePreferences', { language: 'it' }, accessToken);
      assert.equal(updated.language, 'it');
      assert.equal(updated.theme, 'light');
      assert.equal((await call<User>(auth.client, 'getMe', {}, accessToken)).language, 'it');
      await rejects(call(auth.client, 'updatePreferences', { theme: 'purple' }, accessToken), grpc.status.INVALID_ARGUMENT, /Theme must be one of light, dark/);
      await call(auth.client, 'updatePreferences', { language: 'en' }, accessToken);
    });
  });

  describe('refresh and logout', () => {
    it('rotates the refresh token', async () => {
      const first = await login('admin', adminPassword);
      const second = await call<LoginResponse>(auth.client, 'refresh', { refreshToken: first.refreshToken });
      assert.notEqual(second.refreshToken, first.refreshToken);
      assert.equal(second.user?.username, 'admin');
      const third = await call<LoginResponse>(auth.client, 'refresh', { refreshToken: second.refreshToken });
      assert.ok(third.accessToken);
      const rows = await auth.dataSource.query(
        `SELECT id, replaced_by, revoked_at FROM auth.refresh_tokens WHERE family_id = (SELECT family_id FROM auth.refresh_tokens ORDER BY created_at DESC LIMIT 1) ORDER BY created_at`,
      );
      assert.equal(rows.length, 3);
      assert.equal(rows[0].replaced_by, rows[1].id);
      assert.equal(rows[1].replaced_by, rows[2].id);
      assert.equal(rows[2].revoked_at, null);
    });

    it('revokes the whole family when a rotated token is presented again', async () => {
      const first = await login('admin', adminPassword);
      const second = await call<LoginResponse>(auth.client, 'refresh', { refreshToken: first.refreshToken });
      await rejects(call(auth.client, 'refresh', { refreshToken: first.refreshToken }), grpc.status.UNAUTHENTICATED, /already used/);
      // The legitimate holder's newer token is gone too.
      await rejects(call(auth.client, 'refresh', { refreshToken: second.refreshToken }), grpc.status.UNAUTHENTICATED);
      // Other sessions are untouched.
      const other = await login('admin', adminPassword);
      assert.ok((await call<LoginResponse>(auth.client, 'refresh', { refreshToken: other.refreshToken })).accessToken);
    });

    it('lets only one of two concurrent refreshes with the same token win', async () => {
      const first = await login('admin', adminPassword);
      const results = await Promise.allSettled([1, 2].map(() => call<LoginResponse>(auth.client, 'refresh', { refreshToken: first.refreshToken })));
      assert.ok(results.filter((r) => r.status === 'fulfilled').length <= 1);
    });

    it('rejects unknown refresh tokens', async () => {
      await rejects(call(auth.client, 'refresh', { refreshToken: 'srt_nope' }), grpc.status.UNAUTHENTICATED, /Invalid refresh token/);
      await rejects(call(auth.client, 'refresh', { refreshToken: '' }), grpc.status.UNAUTHENTICATED);
    });

    it('logout revokes the session', async () => {
      const session = await login('admin', adminPassword);
      const rotated = await call<LoginResponse>(auth.client, 'refresh', { refreshToken: session.refreshToken });
      const other = await login('admin', adminPassword);
      await call(auth.client, 'logout', { refreshToken: rotated.refreshToken });
      await rejects(call(auth.client, 'refresh', { refreshToken: rotated.refreshToken }), grpc.status.UNAUTHENTICATED, /revoked/);
      // Logging out twice, or with an unknown token, is fine.
      await call(auth.client, 'logout', { refreshToken: rotated.refreshToken });
      await call(auth.client, 'logout', { refreshToken: 'srt_unknown' });
      assert.ok((await call<LoginResponse>(auth.client, 'refresh', { refreshToken: other.refreshToken })).accessToken);
    });
  });

  describe('user administration', () => {
    let viewerToken: string;
    before(async () => {
      await call<User>(auth.client, 'createUser', { username: 'vera', email: 'vera@example.com', password: 'vera password 1' }, adminToken);
      viewerToken = (await login('vera', 'vera password 1')).accessToken;
    });

    it('is for admins only', async () => {
      await rejects(call(auth.client, 'listUsers', {}, viewerToken), grpc.status.PERMISSION_DENIED, /requires level admin; you are viewer/);
      await rejects(call(auth.client, 'createUser', { username: 'x1x', password: 'long enough pw' }, viewerToken), grpc.status.PERMISSION_DENIED);
    });

    it('creates users with checked fields and case-insensitive unique usernames', async () => {
      await rejects(call(auth.client, 'createUser', { username: 'Vera', password: 'another pw 123' }, adminToken), grpc.status.ALREADY_EXISTS, /already taken/);
      await rejects(call(auth.client, 'createUser', { username: 'newbie', password: 'short' }, adminToken), grpc.status.INVALID_ARGUMENT, 'Password must be at least 10 characters long');
      const bad = await rejects(call(auth.client, 'createUser', { username: 'a b', password: 'long enough pw', level: 'boss' }, adminToken), grpc.status.INVALID_ARGUMENT);
      assert.deepEqual(Object.keys(fieldErrorsOf(bad.metadata)!).sort(), ['level', 'username']);
      const created = await call<User>(auth.client, 'createUser', { username: 'Dev.One', password: 'dev password 1', level: 'developer', language: 'fr' }, adminToken);
      assert.equal(created.level, 'developer');
      assert.equal(created.language, 'fr');
      assert.equal((await login('dev.one', 'dev password 1')).user?.id, created.id);
    });

    it('lists users page by page with search', async () => {
      const page1 = await call<{ users: User[]; nextPageToken: string; totalSize: number }>(auth.client, 'listUsers', { pageSize: 2 }, adminToken);
      assert.equal(page1.users.length, 2);
      assert.ok(page1.totalSize >= 4);
      const page2 = await call<{ users: User[]; nextPageToken: string }>(auth.client, 'listUsers', { pageSize: 2, pageToken: page1.nextPageToken }, adminToken);
      assert.notEqual(page2.users[0].id, page1.users[0].id);
      const found = await call<{ users: User[]; totalSize: number }>(auth.client, 'listUsers', { search: 'EXAMPLE.com' }, adminToken);
      assert.deepEqual(found.users.map((u) => u.username), ['vera']);
      assert.equal(found.totalSize, 1);
    });

    it('updates level and email, leaving unset fields alone; admins cannot demote themselves', async () => {
      const { users } = await call<{ users: User[] }>(auth.client, 'listUsers', { search: 'vera' }, adminToken);
      const updated = await call<User>(auth.client, 'updateUser', { id: users[0].id, level: 'operator' }, adminToken);
      assert.equal(updated.level, 'operator');
      assert.equal(updated.email, 'vera@example.com');
      assert.equal(updated.active, true);
      const me = await call<User>(auth.client, 'getMe', {}, adminToken);
      await rejects(call(auth.client, 'updateUser', { id: me.id, level: 'viewer' }, adminToken), grpc.status.FAILED_PRECONDITION);
      await rejects(call(auth.client, 'getUser', { id: 'not-a-uuid' }, adminToken), grpc.status.NOT_FOUND);
    });

    it('lets a user change their own password, keeping only the current session', async () => {
      const current = await login('vera', 'vera password 1');
      const other = await login('vera', 'vera password 1');
      await rejects(call(auth.client, 'changePassword', { currentPassword: 'wrong password', newPassword: 'vera password 2' }, current.accessToken), grpc.status.INVALID_ARGUMENT, 'Current password is incorrect');
      await call(auth.client, 'changePassword', { currentPassword: 'vera password 1', newPassword: 'vera password 2' }, current.accessToken);
      await rejects(call(auth.client, 'refresh', { refreshToken: other.refreshToken }), grpc.status.UNAUTHENTICATED);
      assert.ok((await call<LoginResponse>(auth.client, 'refresh', { refreshToken: current.refreshToken })).accessToken);
      await rejects(login('vera', 'vera password 1'), grpc.status.UNAUTHENTICATED);
      assert.ok((await login('vera', 'vera password 2')).accessToken);
    });
  });

  describe('audit trail and API tokens', () => {
    it('stores audit events other services publish, once per event id', async () => {
      const event = {
        eventId: 'catalog-edit-1', occurredAt: new Date().toISOString(), service: 'catalog', action: 'script.metadata_edited',
        outcome: 'success' as const, actorId: 'u-1', actorUsername: 'dev', targetType: 'script', targetId: 'g/s.py', ip: '10.0.0.9',
        details: { field: 'description' },
      };
      auth.bus.publish(Subjects.auditActionPerformed, event);
      auth.bus.publish(Subjects.auditActionPerformed, event);
      const { eventId: _id, occurredAt: _at, ...body } = event;
      auth.bus.publish(Subjects.auditActionPerformed, { ...body, action: '' } as never); // malformed: ignored
      let events: { id: string; service: string; ip: string; detailsJson: string }[] = [];
      for (let i = 0; i < 50 && events.length === 0; i++) {
        events = (await call<{ events: typeof events }>(auth.client, 'listAuditEvents', { action: 'script.metadata_edited' }, adminToken)).events;
        if (!events.length) await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(events.length, 1);
      assert.deepEqual([events[0].id, events[0].service, events[0].ip, JSON.parse(events[0].detailsJson)], ['catalog-edit-1', 'catalog', '10.0.0.9', { field: 'description' }]);
    });

    it('resolves API tokens locally in auth and caps them at the owner\'s current level', async () => {
      const dev = await call<User>(auth.client, 'createUser', { username: 'tokenowner', password: 'token owner pw 1', level: 'developer' }, adminToken);
      const devToken = (await login('tokenowner', 'token owner pw 1')).accessToken;
      const created = await call<{ token: string; apiToken: { id: string; level: string } }>(auth.client, 'createApiToken', { name: 'ci', level: 'developer' }, devToken);
      assert.match(created.token, /^sct_/);
      const verified = await call<{ level: string; userId: string }>(auth.client, 'verifyApiToken', { token: created.token });
      assert.deepEqual([verified.level, verified.userId], ['developer', dev.id]);
      await call(auth.client, 'updateUser', { id: dev.id, level: 'viewer' }, adminToken);
      assert.equal((await call<{ level: string }>(auth.client, 'verifyApiToken', { token: created.token })).level, 'viewer');
      assert.equal((await call<User>(auth.client, 'getMe', {}, created.token)).username, 'tokenowner');
      await rejects(call(auth.client, 'createApiToken', { name: 'again' }, created.token), grpc.status.PERMISSION_DENIED);
      await call(auth.client, 'revokeApiToken', { id: created.apiToken.id }, devToken);
      await rejects(call(auth.client, 'getMe', {}, created.token), grpc.status.UNAUTHENTICATED, 'API token revoked');
      await rejects(call(auth.client, 'verifyApiToken', { token: created.token }), grpc.status.UNAUTHENTICATED);
    });
  });
});
