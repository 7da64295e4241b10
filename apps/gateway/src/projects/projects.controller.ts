import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Patch, PayloadTooLargeException, Post, Put, Query, Req, Res, type OnModuleInit } from '@nestjs/common';
import type { ClientGrpc } from '@nestjs/microservices';
import { status as GrpcStatus } from '@grpc/grpc-js';
import type { Request, Response } from 'express';
import { firstValueFrom } from 'rxjs';
import type { Project, ProjectFileEntry, ProjectServiceClient } from '#contracts/generated/scriptorium/execution/v1/execution.js';
import type { Caller } from '#common/auth.js';
import { callMetadata, grpcClientToken } from '#common/grpc.js';
import { CurrentCaller } from '../auth/current-caller.decorator.js';
import { ApiBody, ApiConsumes, ApiExtraModels, ApiOkResponse, getSchemaPath } from '@nestjs/swagger';
import { ApiErrors } from '../error-body.js';
import { ProjectDto, ProjectFileEntryDto, ProjectFolderDto, ProjectListDto } from './project.dto.js';
import { ActiveProjectQuery, CreateProjectDto, FilesQuery, ListProjectsQuery, RenameProjectDto, SetActiveProjectDto } from './dto.js';

/** The upload size the gateway accepts before asking execution (which has the final word: PROJECT_FILE_MAX_BYTES). */
const UPLOAD_LIMIT = Number(process.env.PROJECT_FILE_MAX_BYTES) > 0 ? Number(process.env.PROJECT_FILE_MAX_BYTES) : 2 * 1024 * 1024;

/** Express 5 gives a `*path` wildcard as its decoded segments. */
function joinPath(path: string | string[] | undefined): string {
  return Array.isArray(path) ? path.join('/') : (path ?? '');
}

const projectView = (p: Project): ProjectDto => p;
const entryView = (e: ProjectFileEntry): ProjectFileEntryDto => ({ path: e.path, name: e.name, type: e.type, size: e.size, modifiedAt: e.modifiedAt });

/**
 * Projects (per user and script group; the default one is created on first use), the active
 * project per group, and each project's data directory: list, download, upload, delete.
 * Someone else's project answers 404 (admins see every project).
 */
@Controller('api/v1/projects')
export class ProjectsController implements OnModuleInit {
  private projects: ProjectServiceClient;

  constructor(@Inject(grpcClientToken('execution')) private readonly client: ClientGrpc) {}

  onModuleInit() {
    this.projects = this.client.getService<ProjectServiceClient>('ProjectService');
  }

  @Get()
  async list(@CurrentCaller() caller: Caller, @Query() query: ListProjectsQuery): Promise<ProjectListDto> {
    const res = await firstValueFrom(this.projects.listProjects({ groupId: query.groupId ?? '', userId: query.userId ?? '' }, callMetadata(caller.authorization)));
    return { items: res.projects.map(projectView) };
  }

  @Post()
  @HttpCode(201)
  @ApiErrors({ 409: 'A project of that name already exists in the group' })
  async create(@CurrentCaller() caller: Caller, @Body() body: CreateProjectDto): Promise<ProjectDto> {
    return projectView(await firstValueFrom(this.projects.createProject({ groupId: body.groupId, name: body.name }, callMetadata(caller.authorization))));
  }

  /** The caller's active project in a group (their default one unless they chose another). */
  @Get('active')
  async active(@CurrentCaller() caller: Caller, @Query() query: ActiveProjectQuery): Promise<ProjectDto> {
    return projectView(await firstValueFrom(this.projects.getActiveProject({ groupId: query.groupId }, callMetadata(caller.authorization))));
  }

  @Put('active')
  @ApiErrors({ 404: 'No such project of the caller in that group' })
  async setActive(@CurrentCaller() caller: Caller, @Body() body: SetActiveProjectDto): Promise<ProjectDto> {
    return projectView(await firstValueFrom(this.projects.setActiveProject({ groupId: body.groupId, projectId: body.projectId }, callMetadata(caller.authorization))));
  }

  @Get(':id')
  async get(@CurrentCaller() caller: Caller, @Param('id') id: string): Promise<ProjectDto> {
    return projectView(await firstValueFrom(this.projects.getProject({ projectId: id }, callMetadata(caller.authorization))));
  }

  @Patch(':id')
  @ApiErrors({ 409: 'A project of that name already exists in the group' })
  async rename(@CurrentCaller() caller: Caller, @Param('id') id: string, @Body() body: RenameProjectDto): Promise<ProjectDto> {
    return projectView(await firstValueFrom(this.projects.renameProject({ projectId: id, name: body.name }, callMetadata(caller.authorization))));
  }

  /** 409 while the project has queued or running runs; removes its data directory. */
  @Delete(':id')
  @HttpCode(204)
  @ApiErrors({ 409: 'The project has queued or running runs, or is its group\'s default project' })
  async delete(@CurrentCaller() caller: Caller, @Param('id') id: string) {
    await firstValueFrom(this.projects.deleteProject({ projectId: id }, callMetadata(caller.authorization)));
  }

  /** The data directory's top level (`recursive=true` for everything), with sizes and modification times. */
  @Get(':id/files')
  async listRoot(@CurrentCaller() caller: Caller, @Param('id') id: string, @Query() query: FilesQuery): Promise<ProjectFolderDto> {
    return this.listing(caller, id, '', query.recursive ?? false);
  }

  /** A folder's listing, or a file's content (as an attachment, never rendered). */
  @Get(':id/files/*path')
  @ApiExtraModels(ProjectFolderDto)
  @ApiOkResponse({
    description: 'A folder: its listing; a file: its bytes as an attachment',
    content: { 'application/json': { schema: { $ref: getSchemaPath(ProjectFolderDto) } }, 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } },
  })
  @ApiErrors({ 413: 'The file is larger than the API lets download' })
  async read(@CurrentCaller() caller: Caller, @Param('id') id: string, @Param('path') path: string[], @Query() query: FilesQuery, @Res() res: Response) {
    const relative = joinPath(path);
    const metadata = callMetadata(caller.authorization);
    const listed = await firstValueFrom(this.projects.listProjectFiles({ projectId: id, path: relative, recursive: query.recursive ?? false }, metadata));
    const single = listed.entries.length === 1 && listed.entries[0].path === relative.split('/').filter(Boolean).join('/') ? listed.entries[0] : undefined;
    if (!single || single.type === 'directory') {
      const folder: ProjectFolderDto = { path: relative, items: listed.entries.map(entryView), maxFileBytes: listed.maxFileBytes };
      return res.json(folder);
    }
    const file = await firstValueFrom(this.projects.readProjectFile({ projectId: id, path: relative }, metadata)).catch((error) => {
      throw this.tooLarge(error);
    });
    const name = file.entry!.name.replace(/[^\w.-]/g, '_') || 'file';
    res.setHeader('Content-Type', 'application/octet-stream');
    res.setHeader('Content-Disposition', `attachment; filename="${name}"; filename*=UTF-8''${encodeURIComponent(file.entry!.name)}`);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Last-Modified', new Date(file.entry!.modifiedAt).toUTCString());
    return res.send(Buffer.from(file.content));
  }

  /** Uploads the request body as the file's content (creating parent folders); 413 above the size limit. */
  @Put(':id/files/*path')
  @ApiConsumes('application/octet-stream')
  @ApiBody({ description: 'The file\'s bytes, stored as they are whatever the content type', schema: { type: 'string', format: 'binary' } })
  @ApiErrors({ 409: 'The path is a folder, or a parent of it is a file', 413: 'The file is larger than PROJECT_FILE_MAX_BYTES' })
  async write(@CurrentCaller() caller: Caller, @Param('id') id: string, @Param('path') path: string[], @Req() req: Request): Promise<ProjectFileEntryDto> {
    // Ownership first: someone else's project answers 404 before any byte is read.
    await firstValueFrom(this.projects.getProject({ projectId: id }, callMetadata(caller.authorization)));
    const content = await this.body(req);
    const entry = await firstValueFrom(
      this.projects.writeProjectFile({ projectId: id, path: joinPath(path), content }, callMetadata(caller.authorization)),
    ).catch((error) => {
      throw this.tooLarge(error);
    });
    return entryView(entry);
  }

  /** Deletes a file, a link (never its target), or a folder (`recursive=true` when not empty). */
  @Delete(':id/files/*path')
  @HttpCode(204)
  @ApiErrors({ 409: 'The folder is not empty: pass recursive=true' })
  async remove(@CurrentCaller() caller: Caller, @Param('id') id: string, @Param('path') path: string[], @Query() query: FilesQuery) {
    await firstValueFrom(this.projects.deleteProjectFile({ projectId: id, path: joinPath(path), recursive: query.recursive ?? false }, callMetadata(caller.authorization)));
  }

  private async listing(caller: Caller, id: string, path: string, recursive: boolean): Promise<ProjectFolderDto> {
    const listed = await firstValueFrom(this.projects.listProjectFiles({ projectId: id, path, recursive }, callMetadata(caller.authorization)));
    return { path, items: listed.entries.map(entryView), maxFileBytes: listed.maxFileBytes };
  }

  private tooLarge(error: unknown): unknown {
    const e = error as { code?: number; details?: string };
    return e?.code === GrpcStatus.OUT_OF_RANGE ? new PayloadTooLargeException(e.details ?? 'File too large') : error;
  }

  /** The raw body, refused with 413 as soon as it passes the limit (a JSON body was already parsed: it is stored as JSON). */
  private body(req: Request): Promise<Buffer> {
    const declared = Number(req.headers['content-length']);
    const tooLarge = () => new PayloadTooLargeException(`File too large: at most ${UPLOAD_LIMIT} bytes may be uploaded`);
    if (declared > UPLOAD_LIMIT) return Promise.reject(tooLarge());
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > UPLOAD_LIMIT) {
          req.removeAllListeners('data');
          req.resume();
          reject(tooLarge());
          return;
        }
        chunks.push(chunk);
      });
      req.on('end', () => resolve(Buffer.concat(chunks)));
      req.on('error', reject);
    });
  }
}
