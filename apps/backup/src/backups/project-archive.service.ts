import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import type { ClientGrpc } from '@nestjs/microservices';
import { firstValueFrom } from 'rxjs';
import tar from 'tar-stream';
import { ZipFile } from 'yazl';
import type { Caller } from '#common/auth.js';
import { callMetadata, grpcClientToken } from '#common/grpc.js';
import { rootLogger } from '#common/logger.js';
import type { Project, ProjectServiceClient } from '#contracts/generated/scriptorium/execution/v1/execution.js';
import { TRANSFER_CLIENTS } from './backups.service.js';
import type { ServiceTransferClients } from './service-transfer.client.js';

/**
 * One project's data folder as a zip (the seed's per-project backup). Who may have it is the
 * execution service's answer to GetProject for the caller (the owner, or an admin); the files come
 * from its files export, limited to the project's folder.
 */
@Injectable()
export class ProjectArchiveService implements OnModuleInit {
  private projects: ProjectServiceClient;

  constructor(
    @Inject(grpcClientToken('execution')) private readonly executionClient: ClientGrpc,
    @Inject(TRANSFER_CLIENTS) private readonly transfer: ServiceTransferClients,
  ) {}

  onModuleInit() {
    this.projects = this.executionClient.getService('ProjectService');
  }

  /** The project (as the caller may see it) and its folder among the execution service's files. */
  async folderOf(projectId: string, caller: Caller): Promise<{ project: Project; prefix: string }> {
    const project = await firstValueFrom(this.projects.getProject({ projectId }, callMetadata(caller.authorization)));
    // The execution service's layout: projects/<user>/<group>/<"default" or the project id>.
    return { project, prefix: join(project.userId, project.groupId, project.isDefault ? 'default' : project.id) };
  }

  async zip(projectId: string, caller: Caller): Promise<{ project: Project; zip: Readable }> {
    const { project, prefix } = await this.folderOf(projectId, caller);
    const zip = new ZipFile();
    const out = new PassThrough();
    zip.outputStream.pipe(out);
    const extract = tar.extract();
    const files = this.transfer.exportFiles('execution', prefix);
    files.on('error', (error) => extract.destroy(error));
    files.pipe(createGunzip()).pipe(extract);
    (async () => {
      // yazl reads each entry when its turn comes; the next tar entry arrives once it has.
      for await (const entry of extract) {
        const name = entry.header.name.slice(prefix.length + 1);
        if (entry.header.type === 'file' && name) zip.addReadStream(Readable.from(entry), name, { mtime: entry.header.mtime ?? new Date(), size: entry.header.size });
        else entry.resume();
      }
      zip.end();
    })().catch((error: Error) => {
      rootLogger().warn({ err: error, project: projectId }, 'project zip failed');
      out.destroy(error);
    });
    return { project, zip: out };
  }
}
