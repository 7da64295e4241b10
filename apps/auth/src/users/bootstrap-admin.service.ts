import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { rootLogger } from '#common/logger.js';
import type { AuthConfig } from '../auth.config.js';
import { checkPasswordRules, generatePassword, hashPassword } from './passwords.js';
import { UsersService } from './users.service.js';

export interface BootstrapAdminResult {
  /** True when this start created the admin (there was no user before). */
  created: boolean;
  username: string;
  /** Set only when this start created the admin AND generated its password. */
  generatedPassword?: string;
  /** Where the generated password was written (INITIAL_ADMIN_PASSWORD_FILE), when it was. */
  passwordFile?: string;
}

/**
 * Creates the first administrator when the users table is empty. The launcher reads
 * the outcome after start-up, `app.get(BootstrapAdminService).takeGeneratedPassword()`,
 * to print a generated password once; it is never logged.
 */
@Injectable()
export class BootstrapAdminService implements OnApplicationBootstrap {
  private outcome: BootstrapAdminResult | undefined;
  private passwordTaken = false;

  constructor(
    private readonly users: UsersService,
    @Inject('SERVICE_CONFIG') private readonly config: AuthConfig,
  ) {}

  async onApplicationBootstrap() {
    await this.ensureAdmin();
  }

  /** Idempotent: creates the admin only if no user exists; later calls return the first outcome. */
  async ensureAdmin(): Promise<BootstrapAdminResult> {
    if (this.outcome) return this.outcome;
    const username = this.config.BOOTSTRAP_ADMIN_USERNAME;
    const configured = this.config.BOOTSTRAP_ADMIN_PASSWORD;
    if (configured) checkPasswordRules(configured, username, 'BOOTSTRAP_ADMIN_PASSWORD');
    const password = configured ?? generatePassword();
    const file = configured ? undefined : this.config.INITIAL_ADMIN_PASSWORD_FILE;
    const created = await this.users.createFirstAdmin(username, await hashPassword(password), file ? () => writePrivateFile(file, `${password}\n`) : undefined);
    this.outcome = created
      ? { created: true, username: created.username, ...(configured ? {} : { generatedPassword: password }), ...(file ? { passwordFile: file } : {}) }
      : { created: false, username };
    if (created) {
      rootLogger().info(
        { username: created.username, passwordSource: configured ? 'BOOTSTRAP_ADMIN_PASSWORD' : 'generated' },
        configured
          ? `created the first administrator "${created.username}" with the password from BOOTSTRAP_ADMIN_PASSWORD`
          : `created the first administrator "${created.username}" with a generated password (shown once by the launcher)`,
      );
    }
    return this.outcome;
  }

  /** The outcome of start-up; undefined before it ran. Includes the generated password until it is taken. */
  get result(): BootstrapAdminResult | undefined {
    if (!this.outcome) return undefined;
    if (this.passwordTaken) return { created: this.outcome.created, username: this.outcome.username };
    return this.outcome;
  }

  /**
   * The generated password, once: later calls return undefined and the password is
   * dropped from memory. Undefined when no admin was created or the password was configured.
   */
  takeGeneratedPassword(): { username: string; password: string; file?: string } | undefined {
    const password = this.passwordTaken ? undefined : this.outcome?.generatedPassword;
    this.passwordTaken = true;
    if (this.outcome) delete this.outcome.generatedPassword;
    if (!password || !this.outcome) return undefined;
    return { username: this.outcome.username, password, ...(this.outcome.passwordFile ? { file: this.outcome.passwordFile } : {}) };
  }
}

/** Writes a secret only its owner can read, whole or not at all (a temp file renamed over), flushed to disk. */
function writePrivateFile(path: string, content: string) {
  try {
    writeWhole(path, content);
  } catch (error) {
    throw new Error(`cannot keep the generated admin password in ${path} (${(error as Error).message}), so the admin was not created; fix the folder or set BOOTSTRAP_ADMIN_PASSWORD`);
  }
}

function writeWhole(path: string, content: string) {
  mkdirSync(dirname(path), { recursive: true });
  const temp = `${path}.${process.pid}.tmp`;
  rmSync(temp, { force: true });
  const fd = openSync(temp, 'wx', 0o600);
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, path);
}
