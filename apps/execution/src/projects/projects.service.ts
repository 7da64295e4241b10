import { randomUUID } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, mkdir, open, readdir, rename, rm, rmdir, unlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { Inject, Injectable } from '@nestjs/common';
import type { Caller } from '#common/auth.js';
import { conflict, DomainError, failedPrecondition, invalidArgument, notFound, permissionDenied } from '#common/errors.js';
import { CatalogClient } from '../catalog/catalog.client.js';
import type { ExecutionConfig } from '../execution.config.js';
import type { ProjectRecord } from './project.entity.js';
import { PROJECT_SETTINGS, type ProjectSettings } from './projects.config.js';
import { CODE_SESSIONS_GROUP, type RunProjects } from './projects.port.js';
import { ProjectsRepository } from './projects.repository.js';
import { confine, missing, type ConfinedPath } from './safe-path.js';
import { isUuid } from '#common/ids.js';

export const DEFAULT_PROJECT_NAME = 'Default';
/** What runs used as project id before projects existed; still accepted for the default project. */
const LEGACY_DEFAULT_ID = 'default';
const GROUP_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export interface FileEntry {
  path: string;
  name: string;
  type: 'file' | 'directory' | 'symlink';
  size: number;
  modifiedAt: Date;
}

@Injectable()
export class ProjectsService implements RunProjects {
  constructor(
    private readonly projects: ProjectsRepository,
    @Inject('SERVICE_CONFIG') private readonly config: ExecutionConfig,
    @Inject(PROJECT_SETTINGS) readonly settings: ProjectSettings,
    private readonly catalog: CatalogClient,
  ) {}

  /** The project's data directory: DATA_DIR/projects/<user>/<group>/<dir>. */
  dataDir(project: ProjectRecord): string {
    return resolve(this.config.DATA_DIR, 'projects', project.userId, project.groupId, project.dirName);
  }

  /** The user's default project in a group, created on first use. */
  async ensureDefault(userId: string, groupId: string): Promise<ProjectRecord> {
    const found = await this.projects.findDefault(userId, groupId);
    if (found) return found;
    // Concurrent first uses race on the partial unique index; the loser reads the winner's row.
    await this.projects.insertDefaultIfMissing(userId, groupId, DEFAULT_PROJECT_NAME);
    return (await this.projects.findDefault(userId, groupId))!;
  }

  /** The project a run of the caller in `groupId` uses: the named one (theirs, same group), else their active one. */
  async resolveForRun(caller: Caller, groupId: string, projectId: string): Promise<ProjectRecord> {
    if (!projectId) return this.activeProject(caller.userId, groupId);
    if (projectId === LEGACY_DEFAULT_ID) return this.ensureDefault(caller.userId, groupId);
    const project = await this.findOwn(caller, projectId);
    if (project.groupId !== groupId) {
      throw invalidArgument(`Project "${project.name}" belongs to group ${project.groupId}, not ${groupId}`, { projectId: `belongs to group ${project.groupId}` });
    }
    return project;
  }

  /** A project the caller owns (runs only ever go into the caller's own projects). */
  private async findOwn(caller: Caller, projectId: string): Promise<ProjectRecord> {
    const project = isUuid(projectId) ? await this.projects.find(projectId) : null;
    if (!project || project.userId !== caller.userId) throw notFound(`Project ${projectId} not found`);
    return project;
  }

  /** A project the caller may see: their own, or anyone's for an admin; otherwise reported missing. */
  async get(caller: Caller, projectId: string): Promise<ProjectRecord> {
    const project = isUuid(projectId) ? await this.projects.find(projectId) : null;
    if (!project || (project.userId !== caller.userId && caller.level !== 'admin')) throw notFound(`Project ${projectId} not found`);
    return project;
  }

  async activeProject(userId: string, groupId: string): Promise<ProjectRecord> {
    this.checkGroupId(groupId);
    const project = await this.projects.activeProject(userId, groupId);
    return project ?? this.ensureDefault(userId, groupId);
  }

  async isActive(project: ProjectRecord): Promise<boolean> {
    const row = await this.projects.activeChoice(project.userId, project.groupId);
    return row ? row.projectId === project.id : project.isDefault;
  }

  async setActive(caller: Caller, groupId: string, projectId: string): Promise<ProjectRecord> {
    const project = await this.resolveForRun(caller, groupId, projectId || LEGACY_DEFAULT_ID);
    await this.projects.setActive(caller.userId, groupId, project.id);
    return project;
  }

  async list(caller: Caller, groupId: string, userId: string): Promise<ProjectRecord[]> {
    const owner = userId || caller.userId;
    if (owner !== caller.userId && caller.level !== 'admin') throw permissionDenied("Listing another user's projects requires level admin");
    if (groupId) {
      this.checkGroupId(groupId);
      if (owner === caller.userId) await this.ensureDefault(owner, groupId);
    }
    return this.projects.list(owner, groupId || undefined);
  }

  async create(caller: Caller, groupId: string, name: string): Promise<ProjectRecord> {
    const clean = this.checkName(name);
    await this.checkGroupVisible(caller, groupId);
    await this.ensureDefault(caller.userId, groupId);
    const id = randomUUID();
    try {
      await this.projects.insert({ id, userId: caller.userId, groupId, name: clean, isDefault: false, dirName: id });
    } catch (error) {
      throw this.nameTaken(error, clean, groupId);
    }
    const project = (await this.projects.find(id))!;
    await mkdir(this.dataDir(project), { recursive: true });
    return project;
  }

  async rename(caller: Caller, projectId: string, name: string): Promise<ProjectRecord> {
    const project = await this.get(caller, projectId);
    const clean = this.checkName(name);
    try {
      await this.projects.rename(project.id, clean);
    } catch (error) {
      throw this.nameTaken(error, clean, project.groupId);
    }
    return (await this.projects.find(project.id))!;
  }

  /** Deletes a project without active runs, then its data directory. The default project stays (its files can be deleted). */
  async delete(caller: Caller, projectId: string): Promise<void> {
    const project = await this.get(caller, projectId);
    if (project.isDefault) throw failedPrecondition(`The default project of group ${project.groupId} cannot be deleted; delete its files instead`);
    const outcome = await this.projects.deleteUnlessActive(project.id);
    if (outcome === 'gone') throw notFound(`Project ${projectId} not found`);
    if (outcome !== 'deleted') {
      throw failedPrecondition(
        `Project "${project.name}" has active runs (${outcome.map((r) => `${r.id} ${r.state}`).join(', ')}); cancel them or wait until they end`,
      );
    }
    await rm(this.dataDir(project), { recursive: true, force: true });
  }

  // ---- data API ----

  private async root(project: ProjectRecord): Promise<string> {
    const dir = this.dataDir(project);
    await mkdir(dir, { recursive: true });
    return dir;
  }

  async listFiles(caller: Caller, projectId: string, path: string, recursive: boolean): Promise<FileEntry[]> {
    const project = await this.get(caller, projectId);
    const target = await confine(await this.root(project), path);
    if (!target.exists) missing(path);
    const stat = await lstat(target.real);
    // A file (or a link to one inside): one entry, under the name it was asked by.
    if (!stat.isDirectory()) return [this.asked(target, await this.entry(target.root, target.real))];
    const entries: FileEntry[] = [];
    const walk = async (dir: string) => {
      const names = (await readdir(dir)).sort();
      for (const name of names) {
        const entry = await this.entry(target.root, join(dir, name)).catch(() => undefined);
        if (!entry) continue; // removed while listing
        entries.push(entry);
        // Never descends through a symlink.
        if (recursive && entry.type === 'directory' && entries.length < 10_000) await walk(join(dir, name));
      }
    };
    await walk(target.real);
    return entries;
  }

  private asked(target: ConfinedPath, entry: FileEntry): FileEntry {
    const path = target.segments.join('/');
    return { ...entry, path, name: target.segments.at(-1) ?? '' };
  }

  private async entry(root: string, absolute: string): Promise<FileEntry> {
    const stat = await lstat(absolute);
    const rel = absolute === root ? '' : absolute.slice(root.length + 1).split(/[\\/]/).join('/');
    return {
      path: rel,
      name: rel.split('/').pop() ?? '',
      type: stat.isSymbolicLink() ? 'symlink' : stat.isDirectory() ? 'directory' : 'file',
      size: stat.isDirectory() ? 0 : stat.size,
      modifiedAt: stat.mtime,
    };
  }

  async readFile(caller: Caller, projectId: string, path: string): Promise<{ entry: FileEntry; content: Buffer }> {
    const project = await this.get(caller, projectId);
    const target = await confine(await this.root(project), path);
    if (!target.exists) missing(path);
    const handle = await open(target.real, constants.O_RDONLY | constants.O_NOFOLLOW).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ELOOP') throw invalidArgument('path is a symbolic link');
      throw error;
    });
    try {
      const stat = await handle.stat();
      if (stat.isDirectory()) throw invalidArgument(`"${path}" is a folder: list it instead`);
      if (!stat.isFile()) throw invalidArgument(`"${path}" is not a regular file`);
      if (stat.size > this.settings.maxFileBytes) {
        throw new DomainError(GrpcStatus.OUT_OF_RANGE, `"${path}" is ${stat.size} bytes; files larger than ${this.settings.maxFileBytes} bytes cannot be downloaded through the API`);
      }
      const content = await handle.readFile();
      return { entry: this.asked(target, await this.entry(target.root, target.real)), content };
    } finally {
      await handle.close();
    }
  }

  async writeFile(caller: Caller, projectId: string, path: string, content: Buffer): Promise<FileEntry> {
    const project = await this.get(caller, projectId);
    if (content.length > this.settings.maxFileBytes) {
      throw new DomainError(GrpcStatus.OUT_OF_RANGE, `File too large: ${content.length} bytes; at most ${this.settings.maxFileBytes} bytes may be uploaded`);
    }
    const root = await this.root(project);
    let target = await confine(root, path);
    if (target.segments.length === 0) throw invalidArgument('path must name a file, e.g. "input/data.csv"');
    await mkdir(dirname(target.real), { recursive: true }).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'EEXIST' || error.code === 'ENOTDIR') throw failedPrecondition(`A parent of "${path}" is a file, not a folder`);
      throw error;
    });
    // Check again now that the parents exist: nothing may have been swapped for a link meanwhile.
    target = await confine(root, path);
    if (target.exists && (await lstat(target.real)).isDirectory()) throw failedPrecondition(`"${path}" is a folder`);
    const temp = join(dirname(target.real), `.upload-${randomUUID()}`);
    const handle = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
    try {
      await handle.writeFile(content);
    } finally {
      await handle.close();
    }
    // rename replaces a link at the destination rather than following it.
    await rename(temp, target.real).catch(async (error) => {
      await unlink(temp).catch(() => undefined);
      throw error;
    });
    return this.asked(target, await this.entry(target.root, target.real));
  }

  async deleteFile(caller: Caller, projectId: string, path: string, recursive: boolean): Promise<void> {
    const project = await this.get(caller, projectId);
    const target: ConfinedPath = await confine(await this.root(project), path, { followLast: false });
    if (target.segments.length === 0) throw invalidArgument('path must name a file or folder; delete the project to remove everything');
    if (!target.exists) missing(path);
    const stat = await lstat(target.real);
    if (!stat.isDirectory()) return unlink(target.real); // a file or the link itself, never its target
    if (recursive) return rm(target.real, { recursive: true, force: true });
    await rmdir(target.real).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOTEMPTY' || error.code === 'EEXIST') throw failedPrecondition(`Folder "${path}" is not empty; pass recursive=true to delete it with its content`);
      throw error;
    });
  }

  // ---- checks ----

  private checkName(name: string): string {
    const clean = (name ?? '').trim();
    if (!clean) throw invalidArgument('name is required', { name: 'is required' });
    if (clean.length > 100) throw invalidArgument('name must be at most 100 characters', { name: 'must be at most 100 characters' });
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f]/.test(clean)) throw invalidArgument('name must not contain control characters', { name: 'must not contain control characters' });
    return clean;
  }

  private checkGroupId(groupId: string) {
    if (groupId !== CODE_SESSIONS_GROUP && !GROUP_ID.test(groupId)) {
      throw invalidArgument('groupId must be a script group id such as "examples"', { groupId: 'must be a script group id' });
    }
  }

  /** Projects are made only in groups the caller can see in the catalog (or the code-sessions group). */
  private async checkGroupVisible(caller: Caller, groupId: string) {
    this.checkGroupId(groupId);
    if (groupId === CODE_SESSIONS_GROUP) return;
    const { groups } = await this.catalog.listGroups(caller.authorization);
    if (!groups.some((g) => g.id === groupId)) throw notFound(`Script group ${groupId} not found`);
  }

  private nameTaken(error: unknown, name: string, groupId: string): unknown {
    if ((error as { code?: string }).code === '23505') return conflict(`A project named "${name}" already exists in group ${groupId}`);
    return error;
  }
}
