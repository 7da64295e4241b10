import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { createGunzip, createGzip } from 'node:zlib';
import tar from 'tar-stream';
import { pipeline } from 'node:stream/promises';
import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { ClientGrpc } from '@nestjs/microservices';
import { Cron } from 'croner';
import { firstValueFrom } from 'rxjs';
import { MoreThanOrEqual, type Repository } from 'typeorm';
import type { Caller } from '#common/auth.js';
import { EventBus } from '#common/bus.js';
import { conflict, failedPrecondition, invalidArgument, notFound } from '#common/errors.js';
import { callMetadata, grpcClientToken } from '#common/grpc.js';
import { rootLogger } from '#common/logger.js';
import { PROJECT_ROOT } from '#common/paths.js';
import type { ExecutionServiceClient } from '#contracts/generated/scriptorium/execution/v1/execution.js';
import { GrpcPackages } from '#contracts/grpc-packages.js';
import { Subjects } from '#contracts/subjects.js';
import { ArchiveError, checkPartOpens, Digest, openPart, packArchive, readArchive, readManifest } from '../archive/archive.js';
import { archiveKey, encryptor, keyCheck, keyOfArchive, newSalt } from '../archive/encryption.js';
import { ARCHIVE_FORMAT, ARCHIVE_FORMAT_VERSION, compatibilityProblems, type Manifest, type ManifestPart, type ManifestService } from '../archive/manifest.js';
import type { BackupConfig } from '../backup.config.js';
import { ARCHIVE_SUFFIX, BackupDestination } from '../destinations/destination.port.js';
import { BackupLockRepository } from './backup-lock.repository.js';
import { BackupRecord, BackupSettingsRecord, type BackupTrigger } from './backup.entity.js';
import { ServiceTransferClients, TRANSFER_ORDER, type TransferService } from './service-transfer.client.js';

export const TRANSFER_CLIENTS = Symbol('TRANSFER_CLIENTS');

export interface BackupSettings {
  schedule: string;
  timeZone: string;
  keepLast: number;
  keepDays: number;
}

export interface RestoreResult {
  backup: BackupRecord;
  rows: Record<string, number>;
  files: number;
  cancelledRuns: number;
}

export interface BackupStatus {
  lastSuccess: BackupRecord | null;
  lastFailure: BackupRecord | null;
  nextRun: Date | null;
  storageUsedBytes: number;
  running: boolean;
  problem: string;
  destination: string;
}

const ACTIVE_STATES = ['queued', 'starting', 'running'];
/** Time the cancelled runs get to end before a restore gives up. */
const STOP_RUNS_TIMEOUT_MS = 60_000;
/** The backup service's own records stay as they are at a restore: the archives in the destination are the truth. */
const NOT_RESTORED: TransferService[] = ['backup'];

const productVersion = async () => (JSON.parse(await readFile(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

/**
 * Backups of the whole installation: each service exports its own schema (and the execution
 * service its projects' files) over SchemaTransferService; this service encrypts the data
 * parts, packs them with a manifest into one archive, writes it to the destination, reads it
 * back to verify it, applies the retention, and restores archives.
 */
@Injectable()
export class BackupsService implements OnModuleInit, OnModuleDestroy {
  private job: Cron | undefined;
  private execution: ExecutionServiceClient;
  private running = false;

  constructor(
    @InjectRepository(BackupRecord) private readonly records: Repository<BackupRecord>,
    @InjectRepository(BackupSettingsRecord) private readonly settingsRecords: Repository<BackupSettingsRecord>,
    private readonly lock: BackupLockRepository,
    private readonly destination: BackupDestination,
    @Inject(TRANSFER_CLIENTS) private readonly transfer: ServiceTransferClients,
    @Inject('SERVICE_CONFIG') private readonly config: BackupConfig,
    @Inject(grpcClientToken('execution')) private readonly executionClient: ClientGrpc,
    private readonly bus: EventBus,
  ) {}

  async onModuleInit() {
    this.execution = this.executionClient.getService(GrpcPackages.execution.service);
    if (this.problem()) rootLogger().warn({}, `backups are off: ${this.problem()}`);
    await this.schedule(await this.settings());
  }

  onModuleDestroy() {
    this.job?.stop();
    this.transfer.close();
  }

  /** Why backups cannot run here, or ''. */
  problem(): string {
    if (!this.config.BACKUP_ENCRYPTION_KEY) return 'BACKUP_ENCRYPTION_KEY is not set: set it (at least 16 characters, kept outside the backups) to create, verify and restore backups';
    if (!this.config.SCHEMA_TRANSFER_TOKEN) return 'SCHEMA_TRANSFER_TOKEN is not set: give every service the same one (at least 16 characters) so their data can be exported and imported';
    return '';
  }

  private requireKey(): string {
    const problem = this.problem();
    if (problem) throw failedPrecondition(problem);
    return this.config.BACKUP_ENCRYPTION_KEY!;
  }

  // --- settings and schedule ---

  async settings(): Promise<BackupSettings> {
    const stored = await this.settingsRecords.findOneBy({ id: 1 });
    if (stored) return { schedule: stored.schedule, timeZone: stored.timeZone, keepLast: stored.keepLast, keepDays: stored.keepDays };
    return { schedule: this.config.BACKUP_SCHEDULE, timeZone: this.config.BACKUP_TIME_ZONE, keepLast: this.config.BACKUP_KEEP_LAST, keepDays: this.config.BACKUP_KEEP_DAYS };
  }

  async updateSettings(next: BackupSettings, caller: Caller): Promise<BackupSettings> {
    const fields: Record<string, string> = {};
    const schedule = next.schedule.trim() || 'off';
    if (schedule !== 'off') {
      try {
        new Cron(schedule, { paused: true, timezone: next.timeZone || 'UTC' }).stop();
      } catch (error) {
        fields.schedule = `not a cron expression (${(error as Error).message}); e.g. "0 2 * * *" for daily at 02:00, or "off"`;
      }
    }
    const timeZone = next.timeZone || 'UTC';
    try {
      new Intl.DateTimeFormat('en', { timeZone });
    } catch {
      fields.timeZone = 'must be an IANA time zone, e.g. UTC or Europe/Rome';
    }
    if (!Number.isInteger(next.keepLast) || next.keepLast < 0) fields.keepLast = 'must be 0 (no limit) or a positive whole number';
    if (!Number.isInteger(next.keepDays) || next.keepDays < 0) fields.keepDays = 'must be 0 (no limit) or a positive whole number';
    if (Object.keys(fields).length) throw invalidArgument(`Invalid backup settings: ${Object.entries(fields).map(([k, v]) => `${k} ${v}`).join('; ')}`, fields);
    const settings = { schedule, timeZone, keepLast: next.keepLast, keepDays: next.keepDays };
    await this.settingsRecords.save({ id: 1, ...settings });
    await this.schedule(settings);
    this.audit(caller, 'backup.settings_updated', 'success', 'settings', { ...settings });
    return settings;
  }

  private async schedule(settings: BackupSettings) {
    this.job?.stop();
    this.job = undefined;
    if (settings.schedule === 'off') return;
    this.job = new Cron(settings.schedule, { timezone: settings.timeZone, protect: true }, async (self: Cron) => {
      await this.scheduled(self.currentRun() ?? new Date()).catch((error: Error) => rootLogger().error({ err: error }, 'scheduled backup failed'));
    });
  }

  // --- create ---

  /** Takes a backup now. One at a time across replicas: while another runs, it is refused (409). */
  async create(caller: Caller): Promise<BackupRecord> {
    const passphrase = this.requireKey();
    const outcome = await this.lock.withLock(() => this.take('manual', caller, passphrase));
    if (!outcome) throw conflict('A backup or restore is already running; try again when it has finished (GET /api/v1/backups/status)');
    return outcome.result;
  }

  /**
   * The schedule's backup for the time it fired. Every replica's schedule fires: the one that
   * gets the lock takes it; the others skip it, as does a replica that finds it already taken.
   */
  private async scheduled(firedAt: Date): Promise<void> {
    if (this.problem()) {
      rootLogger().warn({}, `scheduled backup skipped: ${this.problem()}`);
      return;
    }
    await this.lock.withLock(async () => {
      const taken = await this.records.countBy({ trigger: 'scheduled', createdAt: MoreThanOrEqual(new Date(firedAt.getTime() - 60_000)) });
      if (!taken) await this.take('scheduled', undefined, this.config.BACKUP_ENCRYPTION_KEY!);
    });
  }

  private async take(trigger: BackupTrigger, caller: Caller | undefined, passphrase: string): Promise<BackupRecord> {
    this.running = true;
    const record = await this.records.save(this.records.create({ state: 'running', requestedBy: caller?.username ?? 'schedule', trigger }));
    const staging = resolve(this.config.BACKUP_DIR, '.staging', record.id);
    try {
      await mkdir(join(staging, 'services'), { recursive: true });
      await mkdir(join(staging, 'files'), { recursive: true });
      const salt = newSalt();
      const key = await archiveKey(passphrase, salt);
      const services: Record<string, ManifestService> = {};
      const parts: ManifestPart[] = [];
      for (const service of TRANSFER_ORDER) {
        const description = await this.transfer.describe(service);
        const name = `services/${service}.jsonl.gz.enc`;
        const { cipher, iv } = encryptor(key);
        const digest = new Digest();
        await pipeline(this.transfer.exportSchema(service), cipher, digest, createWriteStream(join(staging, name)));
        parts.push({ name, size: digest.size, sha256: digest.sha256, iv: iv.toString('base64'), authTag: cipher.getAuthTag().toString('base64') });
        services[service] = { schema: description.schema, migrations: description.migrations, part: name, excludedTables: description.excludedTables };
        if (description.hasFiles) {
          const filesName = `files/${service}.tar.gz`;
          const filesDigest = new Digest();
          await pipeline(this.transfer.exportFiles(service), filesDigest, createWriteStream(join(staging, filesName)));
          parts.push({ name: filesName, size: filesDigest.size, sha256: filesDigest.sha256 });
          services[service].filesPart = filesName;
        }
      }
      const manifest: Manifest = {
        format: ARCHIVE_FORMAT,
        formatVersion: ARCHIVE_FORMAT_VERSION,
        id: record.id,
        createdAt: record.createdAt.toISOString(),
        productVersion: await productVersion(),
        encryption: { cipher: 'aes-256-gcm', kdf: 'scrypt', salt: salt.toString('base64'), keyCheck: keyCheck(key) },
        services,
        parts,
      };
      const location = `${record.createdAt.toISOString().replace(/[:.]/g, '-')}-${record.id}${ARCHIVE_SUFFIX}`;
      const packed = new PassThrough();
      const [size] = await Promise.all([this.destination.write(location, packed), packArchive(manifest, (part) => join(staging, part.name), packed)]);
      record.location = location;
      record.sizeBytes = String(size);
      record.manifest = manifest as never;
      // Checked as written: read back from the destination, every part's checksum, and that it opens.
      await this.check(location, key);
      record.verifiedAt = new Date();
      record.state = 'succeeded';
      record.finishedAt = new Date();
      await this.records.save(record);
      this.audit(caller, 'backup.created', 'success', record.id, { trigger, sizeBytes: size, location });
      rootLogger().info({ backup: record.id, sizeBytes: size, location, destination: this.destination.description }, 'backup written and verified');
      await this.applyRetention().catch((error: Error) => rootLogger().error({ err: error }, 'backup retention failed'));
      return record;
    } catch (error) {
      rootLogger().error({ err: error, backup: record.id }, 'backup failed');
      record.state = 'failed';
      record.error = (error as Error).message;
      record.finishedAt = new Date();
      await this.records.save(record);
      if (record.location) await this.destination.delete(record.location).catch(() => undefined);
      this.audit(caller, 'backup.created', 'failure', record.id, { trigger, error: record.error });
      return record;
    } finally {
      this.running = false;
      await rm(staging, { recursive: true, force: true });
    }
  }

  /** Reads an archive through: throws an ArchiveError saying what is wrong. */
  private async check(location: string, key: Buffer | ((manifest: Manifest) => Promise<Buffer>)): Promise<Manifest> {
    let resolved: Buffer | undefined = Buffer.isBuffer(key) ? key : undefined;
    return readArchive(await this.destination.read(location), async (part, stored, manifest) => {
      resolved ??= await (key as (m: Manifest) => Promise<Buffer>)(manifest);
      await checkPartOpens(part, stored, resolved);
    });
  }

  private keyFor(passphrase: string) {
    return async (manifest: Manifest) => {
      if (!manifest.encryption?.salt) throw new ArchiveError('the manifest has no encryption salt: the archive is damaged');
      const key = await keyOfArchive(passphrase, manifest.encryption);
      if (!key) throw new ArchiveError('BACKUP_ENCRYPTION_KEY is not the key this backup was made with');
      return key;
    };
  }

  // --- retention ---

  /**
   * Deletes the succeeded backups outside the retention: beyond the newest `keepLast` and
   * older than `keepDays` (each only when set). The newest backup is always kept.
   */
  async applyRetention(): Promise<BackupRecord[]> {
    const { keepLast, keepDays } = await this.settings();
    if (!keepLast && !keepDays) return [];
    const succeeded = await this.records.find({ where: { state: 'succeeded' }, order: { createdAt: 'DESC' } });
    const cutoff = Date.now() - keepDays * 86_400_000;
    const expired = succeeded.filter((record, index) => index > 0 && (!keepLast || index >= keepLast) && (!keepDays || record.createdAt.getTime() < cutoff));
    for (const record of expired) {
      await this.destination.delete(record.location);
      await this.records.delete({ id: record.id });
      this.audit(undefined, 'backup.deleted', 'success', record.id, { reason: 'retention', location: record.location });
    }
    return expired;
  }

  // --- list, get, delete, verify ---

  /** Newest first; archives found in the destination without a record (made elsewhere, or before a disaster) are recorded first. */
  async list(): Promise<BackupRecord[]> {
    await this.adoptArchives();
    return this.records.find({ order: { createdAt: 'DESC' }, take: 200 });
  }

  private async adoptArchives() {
    const stored = await this.destination.list();
    const known = new Set((await this.records.find({ select: { location: true } })).map((r) => r.location));
    for (const archive of stored.filter((a) => !known.has(a.name))) {
      try {
        const manifest = await readManifest(await this.destination.read(archive.name));
        await this.records.insert({
          id: (await this.records.existsBy({ id: manifest.id })) ? undefined : manifest.id,
          state: 'succeeded',
          createdAt: new Date(manifest.createdAt),
          finishedAt: new Date(manifest.createdAt),
          sizeBytes: String(archive.size),
          location: archive.name,
          requestedBy: 'unknown',
          trigger: 'found',
          manifest: manifest as never,
        });
      } catch (error) {
        rootLogger().warn({ err: error, archive: archive.name }, 'an archive in the destination cannot be read; not listed');
      }
    }
  }

  async get(id: string): Promise<BackupRecord> {
    const record = /^[0-9a-f-]{36}$/i.test(id) ? await this.records.findOneBy({ id }) : null;
    if (!record) throw notFound(`No backup ${id}; GET /api/v1/backups lists them`);
    return record;
  }

  async delete(id: string, caller: Caller): Promise<void> {
    const record = await this.get(id);
    if (record.state === 'running') throw conflict(`Backup ${id} is still being written; delete it when it has finished`);
    if (record.location) await this.destination.delete(record.location);
    await this.records.delete({ id });
    this.audit(caller, 'backup.deleted', 'success', id, { location: record.location });
  }

  /** Reads the archive again from the destination; the outcome is stored on the record. */
  async verify(id: string, caller: Caller): Promise<BackupRecord> {
    const passphrase = this.requireKey();
    const record = await this.get(id);
    if (record.state !== 'succeeded') throw failedPrecondition(`Backup ${id} is ${record.state}; only a finished backup can be verified`);
    try {
      await this.check(record.location, this.keyFor(passphrase));
      record.verifyError = '';
    } catch (error) {
      if (!(error instanceof ArchiveError) && !(error as { code?: number }).code) throw error;
      record.verifyError = (error as Error).message;
    }
    record.verifiedAt = new Date();
    await this.records.save(record);
    this.audit(caller, 'backup.verified', record.verifyError ? 'failure' : 'success', id, record.verifyError ? { error: record.verifyError } : {});
    return record;
  }

  /** Stores an archive sent by an operator (e.g. from a lost installation) and verifies it. */
  async upload(body: Readable, caller: Caller): Promise<BackupRecord> {
    const passphrase = this.requireKey();
    const location = `uploaded-${new Date().toISOString().replace(/[:.]/g, '-')}${ARCHIVE_SUFFIX}`;
    const size = await this.destination.write(location, body);
    let manifest: Manifest;
    try {
      manifest = await this.check(location, this.keyFor(passphrase));
    } catch (error) {
      await this.destination.delete(location);
      this.audit(caller, 'backup.uploaded', 'failure', location, { error: (error as Error).message });
      if (error instanceof ArchiveError) throw invalidArgument(`The uploaded archive is refused: ${error.message}`);
      throw error;
    }
    const record = await this.records.save(
      this.records.create({
        id: (await this.records.existsBy({ id: manifest.id })) ? undefined : manifest.id,
        state: 'succeeded',
        createdAt: new Date(manifest.createdAt),
        finishedAt: new Date(),
        sizeBytes: String(size),
        location,
        requestedBy: caller.username,
        trigger: 'uploaded',
        verifiedAt: new Date(),
        manifest: manifest as never,
      }),
    );
    this.audit(caller, 'backup.uploaded', 'success', record.id, { sizeBytes: size });
    return record;
  }

  // --- restore ---

  /**
   * Replaces every service's data and the projects' files with the archive's. Before anything
   * changes: the archive is read through (checksums, decryption) and each service's schema
   * version compared with the manifest; a damaged, foreign or incompatible archive is refused.
   * Then active runs are cancelled and awaited, and each service imports its own part.
   */
  async restore(id: string, confirm: string, caller: Caller): Promise<RestoreResult> {
    const passphrase = this.requireKey();
    const record = await this.get(id);
    if (record.state !== 'succeeded') throw failedPrecondition(`Backup ${id} is ${record.state}; only a finished backup can be restored`);
    if (confirm !== id) {
      throw failedPrecondition(
        `Restoring replaces every user, run, log, script edit, tag, project and project file of this installation with the backup's of ${record.createdAt.toISOString()}; to confirm, send confirm: "${id}"`,
      );
    }
    const outcome = await this.lock.withLock(() => this.restoreLocked(record, passphrase, caller));
    if (!outcome) throw conflict('A backup or restore is already running; try again when it has finished (GET /api/v1/backups/status)');
    return outcome.result;
  }

  private async restoreLocked(record: BackupRecord, passphrase: string, caller: Caller): Promise<RestoreResult> {
    this.running = true;
    try {
      let manifest: Manifest;
      let key: Buffer | undefined;
      try {
        manifest = await this.check(record.location, async (m) => (key = await this.keyFor(passphrase)(m)));
      } catch (error) {
        if (error instanceof ArchiveError) throw failedPrecondition(`Backup ${record.id} cannot be restored: ${error.message}. Nothing was changed.`);
        throw error;
      }
      const restored = TRANSFER_ORDER.filter((s) => !NOT_RESTORED.includes(s));
      const installed: Record<string, string[]> = {};
      for (const service of restored) installed[service] = (await this.transfer.describe(service)).migrations;
      const problems = compatibilityProblems(manifest, { productVersion: await productVersion(), services: installed });
      if (problems.length) {
        this.audit(caller, 'backup.restored', 'failure', record.id, { problems });
        throw failedPrecondition(`Backup ${record.id} cannot be restored here: ${problems.join('; ')}. Nothing was changed.`);
      }
      const cancelledRuns = await this.stopRunningWork(caller);
      const rows: Record<string, number> = {};
      let files = 0;
      const byPart = new Map<string, { service: TransferService; kind: 'schema' | 'files' }>();
      for (const service of restored) {
        byPart.set(manifest.services[service].part, { service, kind: 'schema' });
        const filesPart = manifest.services[service].filesPart;
        if (filesPart) byPart.set(filesPart, { service, kind: 'files' });
      }
      await readArchive(await this.destination.read(record.location), async (part, stored) => {
        const target = byPart.get(part.name);
        if (!target) return void stored.resume();
        if (target.kind === 'schema') {
          const result = await this.transfer.importSchema(target.service, openPart(part, stored, key));
          for (const [table, count] of Object.entries(result.rows)) rows[`${manifest.services[target.service].schema}.${table}`] = Number(count);
        } else {
          files += Number((await this.transfer.importFiles(target.service, stored)).files);
        }
      });
      this.audit(caller, 'backup.restored', 'success', record.id, { cancelledRuns, files, productVersion: manifest.productVersion });
      rootLogger().info({ backup: record.id, files, cancelledRuns }, 'backup restored');
      return { backup: record, rows, files, cancelledRuns };
    } finally {
      this.running = false;
    }
  }

  /**
   * Puts one folder of the execution service's files back as the backup has it (a project's data
   * folder), read from the archive's files part; the databases and other folders stay as they are.
   */
  async restoreFolder(id: string, prefix: string, caller: Caller): Promise<number> {
    const passphrase = this.requireKey();
    const record = await this.get(id);
    if (record.state !== 'succeeded') throw failedPrecondition(`Backup ${id} is ${record.state}; only a finished backup can be restored`);
    const outcome = await this.lock.withLock(async () => {
      try {
        await this.check(record.location, this.keyFor(passphrase));
      } catch (error) {
        if (error instanceof ArchiveError) throw failedPrecondition(`Backup ${id} cannot be restored: ${error.message}. Nothing was changed.`);
        throw error;
      }
      let files = 0;
      await readArchive(await this.destination.read(record.location), async (part, stored, manifest) => {
        if (part.name !== manifest.services.execution?.filesPart) return void stored.resume();
        files = Number((await this.transfer.importFiles('execution', subtree(stored, prefix), prefix)).files);
      });
      return files;
    });
    if (!outcome) throw conflict('A backup or restore is already running; try again when it has finished (GET /api/v1/backups/status)');
    this.audit(caller, 'backup.project_files_restored', 'success', id, { folder: prefix, files: outcome.result });
    return outcome.result;
  }

  /** Cancels every active run (as the admin restoring) and waits until none is active. */
  private async stopRunningWork(caller: Caller): Promise<number> {
    const active = async () => {
      const found = [];
      for (const state of ACTIVE_STATES) {
        const page = await firstValueFrom(this.execution.listExecutions({ pageSize: 500, pageToken: '', scriptId: '', state, allUsers: true }, callMetadata(caller.authorization)));
        found.push(...page.executions);
      }
      return found;
    };
    const runs = await active();
    for (const run of runs) {
      await firstValueFrom(this.execution.cancelExecution({ executionId: run.id }, callMetadata(caller.authorization))).catch((error: Error) =>
        rootLogger().warn({ err: error, execution: run.id }, 'could not cancel a run before the restore'),
      );
    }
    const deadline = Date.now() + STOP_RUNS_TIMEOUT_MS;
    while (runs.length && (await active()).length) {
      if (Date.now() > deadline) throw failedPrecondition('Runs are still active a minute after they were cancelled; the restore did not start. Try again.');
      await new Promise((r) => setTimeout(r, 250));
    }
    return runs.length;
  }

  // --- status ---

  async status(): Promise<BackupStatus> {
    const [lastSuccess, lastFailure, stored] = await Promise.all([
      this.records.findOne({ where: { state: 'succeeded' }, order: { createdAt: 'DESC' } }),
      this.records.findOne({ where: { state: 'failed' }, order: { createdAt: 'DESC' } }),
      this.destination.list(),
    ]);
    return {
      lastSuccess,
      lastFailure,
      nextRun: this.job?.nextRun() ?? null,
      storageUsedBytes: stored.reduce((sum, a) => sum + a.size, 0),
      running: this.running,
      problem: this.problem(),
      destination: this.destination.description,
    };
  }

  private audit(caller: Caller | undefined, action: string, outcome: 'success' | 'failure', targetId: string, details: Record<string, unknown>) {
    this.bus.publish(Subjects.auditActionPerformed, {
      service: 'backup',
      action,
      outcome,
      actorId: caller?.userId ?? '',
      actorUsername: caller?.username ?? '',
      targetType: 'backup',
      targetId,
      details,
    });
  }
}

/** The entries of a tar.gz below `prefix`, as a tar.gz of their own (same paths). */
function subtree(compressed: Readable, prefix: string): Readable {
  const extract = tar.extract();
  const pack = tar.pack();
  compressed.on('error', (error) => extract.destroy(error));
  compressed.pipe(createGunzip()).pipe(extract);
  (async () => {
    for await (const entry of extract) {
      const name = entry.header.name.replace(/\/$/, '');
      if (name !== prefix && !name.startsWith(`${prefix}/`)) {
        entry.resume();
        continue;
      }
      await new Promise<void>((resolve, reject) => {
        const copy = pack.entry(entry.header, (error) => (error ? reject(error) : resolve()));
        entry.pipe(copy);
      });
    }
    pack.finalize();
  })().catch((error: Error) => pack.destroy(error));
  return Readable.from(pack).pipe(createGzip());
}
