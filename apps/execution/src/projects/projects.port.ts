import type { Caller } from '#common/auth.js';
import type { ProjectRecord } from './project.entity.js';

/** Group of the code sessions' projects; catalog ignores folders starting with ".", so no script group can take it. */
export const CODE_SESSIONS_GROUP = '.code-sessions';

/** What runs need of projects: which project a run goes into, and its data directory (ProjectsModule provides it). */
export abstract class RunProjects {
  /** The project a run of the caller in `groupId` uses: the named one (theirs, same group), else their active one. */
  abstract resolveForRun(caller: Caller, groupId: string, projectId: string): Promise<ProjectRecord>;
  /** A project the caller may see: their own, or anyone's for an admin; otherwise reported missing. */
  abstract get(caller: Caller, projectId: string): Promise<ProjectRecord>;
  /** The user's active project in a group (the default one, created on first use, unless another was chosen). */
  abstract activeProject(userId: string, groupId: string): Promise<ProjectRecord>;
  /** The project's data directory, the working directory of its runs. */
  abstract dataDir(project: ProjectRecord): string;
}
