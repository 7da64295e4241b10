import { Controller } from '@nestjs/common';
import type { Metadata } from '@grpc/grpc-js';
import {
  ProjectServiceControllerMethods,
  type CreateProjectRequest,
  type DeleteProjectFileRequest,
  type DeleteProjectFileResponse,
  type DeleteProjectRequest,
  type DeleteProjectResponse,
  type GetActiveProjectRequest,
  type GetProjectRequest,
  type ListProjectFilesRequest,
  type ListProjectFilesResponse,
  type ListProjectsRequest,
  type ListProjectsResponse,
  type Project,
  type ProjectFile,
  type ProjectFileEntry,
  type ProjectServiceController,
  type ReadProjectFileRequest,
  type RenameProjectRequest,
  type SetActiveProjectRequest,
  type WriteProjectFileRequest,
} from '#contracts/generated/scriptorium/execution/v1/execution.js';
import { callerOf } from '#common/auth.js';
import type { ProjectRecord } from './project.entity.js';
import { ProjectsService, type FileEntry } from './projects.service.js';

export function toProjectMessage(project: ProjectRecord, isActive: boolean): Project {
  return {
    id: project.id,
    userId: project.userId,
    groupId: project.groupId,
    name: project.name,
    isDefault: project.isDefault,
    isActive,
    createdAt: project.createdAt.toISOString(),
    updatedAt: project.updatedAt.toISOString(),
  };
}

const toEntry = (entry: FileEntry): ProjectFileEntry => ({ ...entry, modifiedAt: entry.modifiedAt.toISOString() });

@Controller()
@ProjectServiceControllerMethods()
export class ProjectsGrpcController implements ProjectServiceController {
  constructor(private readonly projects: ProjectsService) {}

  private async message(project: ProjectRecord): Promise<Project> {
    return toProjectMessage(project, await this.projects.isActive(project));
  }

  async listProjects(request: ListProjectsRequest, metadata?: Metadata): Promise<ListProjectsResponse> {
    const list = await this.projects.list(callerOf(metadata), request.groupId, request.userId);
    return { projects: await Promise.all(list.map((p) => this.message(p))) };
  }

  async createProject(request: CreateProjectRequest, metadata?: Metadata): Promise<Project> {
    return this.message(await this.projects.create(callerOf(metadata), request.groupId, request.name));
  }

  async getProject(request: GetProjectRequest, metadata?: Metadata): Promise<Project> {
    return this.message(await this.projects.get(callerOf(metadata), request.projectId));
  }

  async renameProject(request: RenameProjectRequest, metadata?: Metadata): Promise<Project> {
    return this.message(await this.projects.rename(callerOf(metadata), request.projectId, request.name));
  }

  async deleteProject(request: DeleteProjectRequest, metadata?: Metadata): Promise<DeleteProjectResponse> {
    await this.projects.delete(callerOf(metadata), request.projectId);
    return {};
  }

  async getActiveProject(request: GetActiveProjectRequest, metadata?: Metadata): Promise<Project> {
    return toProjectMessage(await this.projects.activeProject(callerOf(metadata).userId, request.groupId), true);
  }

  async setActiveProject(request: SetActiveProjectRequest, metadata?: Metadata): Promise<Project> {
    return toProjectMessage(await this.projects.setActive(callerOf(metadata), request.groupId, request.projectId), true);
  }

  async listProjectFiles(request: ListProjectFilesRequest, metadata?: Metadata): Promise<ListProjectFilesResponse> {
    const entries = await this.projects.listFiles(callerOf(metadata), request.projectId, request.path, request.recursive);
    return { entries: entries.map(toEntry), maxFileBytes: this.projects.settings.maxFileBytes };
  }

  async readProjectFile(request: ReadProjectFileRequest, metadata?: Metadata): Promise<ProjectFile> {
    const file = await this.projects.readFile(callerOf(metadata), request.projectId, request.path);
    return { entry: toEntry(file.entry), content: file.content };
  }

  async writeProjectFile(request: WriteProjectFileRequest, metadata?: Metadata): Promise<ProjectFileEntry> {
    return toEntry(await this.projects.writeFile(callerOf(metadata), request.projectId, request.path, Buffer.from(request.content ?? [])));
  }

  async deleteProjectFile(request: DeleteProjectFileRequest, metadata?: Metadata): Promise<DeleteProjectFileResponse> {
    await this.projects.deleteFile(callerOf(metadata), request.projectId, request.path, request.recursive);
    return {};
  }
}
