import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { ActiveProjectRecord, ProjectRecord } from './project.entity.js';

const ACTIVE_RUN_STATES = ['queued', 'starting', 'running'];

/** The SQL of execution.projects and execution.active_projects. */
@Injectable()
export class ProjectsRepository {
  constructor(
    @InjectRepository(ProjectRecord) private readonly projects: Repository<ProjectRecord>,
    @InjectRepository(ActiveProjectRecord) private readonly active: Repository<ActiveProjectRecord>,
  ) {}

  find(id: string): Promise<ProjectRecord | null> {
    return this.projects.findOneBy({ id });
  }

  findDefault(userId: string, groupId: string): Promise<ProjectRecord | null> {
    return this.projects.findOneBy({ userId, groupId, isDefault: true });
  }

  /** Inserts the user's default project in a group unless one exists (concurrent first uses race on the partial unique index). */
  async insertDefaultIfMissing(userId: string, groupId: string, name: string) {
    await this.projects.createQueryBuilder().insert().values({ userId, groupId, name, isDefault: true, dirName: 'default' }).orIgnore().execute();
  }

  /** The project chosen as active in the group, else the default one (one query: every run asks). */
  activeProject(userId: string, groupId: string): Promise<ProjectRecord | null> {
    return this.projects
      .createQueryBuilder('p')
      .leftJoin(ActiveProjectRecord, 'a', 'a.userId = :userId AND a.groupId = :groupId', { userId, groupId })
      .where('p.userId = :userId AND p.groupId = :groupId', { userId, groupId })
      .andWhere('(p.id = a.projectId OR (p.isDefault = true AND (a.projectId IS NULL OR NOT EXISTS (SELECT 1 FROM execution.projects c WHERE c.id = a.project_id))))')
      .orderBy('p.isDefault', 'ASC')
      .getOne();
  }

  activeChoice(userId: string, groupId: string): Promise<ActiveProjectRecord | null> {
    return this.active.findOneBy({ userId, groupId });
  }

  async setActive(userId: string, groupId: string, projectId: string) {
    await this.active.upsert({ userId, groupId, projectId }, ['userId', 'groupId']);
  }

  list(userId: string, groupId: string | undefined): Promise<ProjectRecord[]> {
    return this.projects.find({
      where: groupId ? { userId, groupId } : { userId },
      order: { groupId: 'ASC', isDefault: 'DESC', name: 'ASC' },
    });
  }

  async insert(project: Pick<ProjectRecord, 'id' | 'userId' | 'groupId' | 'name' | 'isDefault' | 'dirName'>) {
    await this.projects.insert(project);
  }

  async rename(id: string, name: string) {
    await this.projects.update({ id }, { name });
  }

  /**
   * Deletes the project unless it has active runs: answers 'gone' when it does not exist,
   * or up to 5 of its active runs (nothing deleted). The row is locked against a concurrent
   * rename/delete; a run submitted in the instant between the check and the delete could
   * still start in the removed folder (the submit path does not lock the project).
   */
  deleteUnlessActive(id: string): Promise<'deleted' | 'gone' | { id: string; state: string }[]> {
    return this.projects.manager.transaction(async (manager) => {
      const [locked] = await manager.query('SELECT id FROM execution.projects WHERE id = $1 FOR UPDATE', [id]);
      if (!locked) return 'gone';
      // Runs are read here, in the same transaction as the lock: their table belongs to runs.
      const active: { id: string; state: string }[] = await manager.query(
        'SELECT id, state FROM execution.executions WHERE project_id = $1 AND state = ANY($2) ORDER BY created_at LIMIT 5',
        [id, ACTIVE_RUN_STATES],
      );
      if (active.length) return active;
      await manager.query('DELETE FROM execution.projects WHERE id = $1', [id]);
      return 'deleted';
    });
  }
}
