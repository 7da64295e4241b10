import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Req } from '@nestjs/common';
import { ApiBody, ApiConsumes, ApiCreatedResponse, ApiOkResponse } from '@nestjs/swagger';
import type { Request } from 'express';
import { firstValueFrom, Observable } from 'rxjs';
import type { ArchiveChunk } from '#contracts/generated/scriptorium/backup/v1/backup.js';
import type { Caller } from '#common/auth.js';
import { callMetadata } from '#common/grpc.js';
import { CurrentCaller } from '../auth/current-caller.decorator.js';
import { ApiErrors } from '../error-body.js';
import { ServiceClients } from '../service-clients.js';
import { BackupDto, BackupListDto, BackupSettingsDto, BackupStatusDto, backupView, RestoreProjectFilesResultDto, RestoreResultDto, statusView } from './backup.dto.js';
import { RestoreBackupDto, RestoreProjectFilesDto, UpdateBackupSettingsDto } from './dto.js';


/**
 * Backups of the whole installation (level admin; the backup service decides and answers 403
 * otherwise). Every action lands in the audit trail.
 */
@Controller('api/v1/backups')
export class BackupsController {
  constructor(private readonly clients: ServiceClients) {}

  @Get()
  @ApiOkResponse({ type: BackupListDto })
  async list(@CurrentCaller() caller: Caller): Promise<BackupListDto> {
    const page = await firstValueFrom(this.clients.backup.listBackups({}, callMetadata(caller.authorization)));
    return { items: page.backups.map(backupView) };
  }

  /** Takes a backup now and answers once it is written and verified (state succeeded or failed, with the reason). */
  @Post()
  @HttpCode(201)
  @ApiCreatedResponse({ type: BackupDto })
  @ApiErrors({ 409: 'Another backup or restore is running, or BACKUP_ENCRYPTION_KEY is not set' })
  async create(@CurrentCaller() caller: Caller): Promise<BackupDto> {
    return backupView(await firstValueFrom(this.clients.backup.createBackup({}, callMetadata(caller.authorization))));
  }

  @Get('status')
  @ApiOkResponse({ type: BackupStatusDto })
  async status(@CurrentCaller() caller: Caller): Promise<BackupStatusDto> {
    return statusView(await firstValueFrom(this.clients.backup.getBackupStatus({}, callMetadata(caller.authorization))));
  }

  @Get('settings')
  @ApiOkResponse({ type: BackupSettingsDto })
  settings(@CurrentCaller() caller: Caller): Promise<BackupSettingsDto> {
    return firstValueFrom(this.clients.backup.getBackupSettings({}, callMetadata(caller.authorization)));
  }

  @Put('settings')
  @ApiOkResponse({ type: BackupSettingsDto })
  updateSettings(@CurrentCaller() caller: Caller, @Body() body: UpdateBackupSettingsDto): Promise<BackupSettingsDto> {
    return firstValueFrom(
      this.clients.backup.updateBackupSettings({ schedule: body.schedule, timeZone: body.timeZone ?? 'UTC', keepLast: body.keepLast, keepDays: body.keepDays }, callMetadata(caller.authorization)),
    );
  }

  /** Stores an archive (the raw file as the body), e.g. one saved from a lost installation, and verifies it. */
  @Post('upload')
  @HttpCode(201)
  @ApiConsumes('application/octet-stream')
  @ApiBody({ schema: { type: 'string', format: 'binary' } })
  @ApiCreatedResponse({ type: BackupDto })
  @ApiErrors({ 400: 'The archive is damaged, foreign, or encrypted with another key' })
  async upload(@CurrentCaller() caller: Caller, @Req() req: Request): Promise<BackupDto> {
    const chunks = new Observable<ArchiveChunk>((subscriber) => {
      req.on('data', (data: Buffer) => subscriber.next({ data }));
      req.on('end', () => subscriber.complete());
      req.on('error', (error) => subscriber.error(error));
    });
    return backupView(await firstValueFrom(this.clients.backup.uploadBackup(chunks, callMetadata(caller.authorization))));
  }

  @Get(':id')
  @ApiOkResponse({ type: BackupDto })
  async get(@CurrentCaller() caller: Caller, @Param('id') id: string): Promise<BackupDto> {
    return backupView(await firstValueFrom(this.clients.backup.getBackup({ id }, callMetadata(caller.authorization))));
  }

  /** Reads the archive again: every part's size and sha256, the manifest, and that each part decrypts and opens. */
  @Post(':id/verify')
  @HttpCode(200)
  @ApiOkResponse({ type: BackupDto })
  async verify(@CurrentCaller() caller: Caller, @Param('id') id: string): Promise<BackupDto> {
    return backupView(await firstValueFrom(this.clients.backup.verifyBackup({ id }, callMetadata(caller.authorization))));
  }

  /**
   * Replaces this installation's data and project files with the backup's. Active runs are
   * cancelled first. A damaged, foreign or newer-version archive is refused (409) and nothing changes.
   */
  @Post(':id/restore')
  @HttpCode(200)
  @ApiOkResponse({ type: RestoreResultDto })
  @ApiErrors({ 409: 'Not confirmed, another job running, or the archive is damaged or incompatible (the message says which)' })
  async restore(@CurrentCaller() caller: Caller, @Param('id') id: string, @Body() body: RestoreBackupDto): Promise<RestoreResultDto> {
    const result = await firstValueFrom(this.clients.backup.restoreBackup({ id, confirm: body.confirm }, callMetadata(caller.authorization)));
    return { backup: backupView(result.backup!), rows: result.rows, files: result.files, cancelledRuns: result.cancelledRuns };
  }

  /** Puts one project's data folder back as it was in the backup; nothing else changes. */
  @Post(':id/restore-project')
  @HttpCode(200)
  @ApiOkResponse({ type: RestoreProjectFilesResultDto })
  async restoreProject(@CurrentCaller() caller: Caller, @Param('id') id: string, @Body() body: RestoreProjectFilesDto): Promise<RestoreProjectFilesResultDto> {
    return firstValueFrom(this.clients.backup.restoreProjectFiles({ id, projectId: body.projectId }, callMetadata(caller.authorization)));
  }

  @Delete(':id')
  @HttpCode(204)
  async delete(@CurrentCaller() caller: Caller, @Param('id') id: string): Promise<void> {
    await firstValueFrom(this.clients.backup.deleteBackup({ id }, callMetadata(caller.authorization)));
  }
}
