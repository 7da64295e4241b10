import { Controller, Get, Query } from '@nestjs/common';
import { firstValueFrom } from 'rxjs';
import type { Caller } from '#common/auth.js';
import { callMetadata } from '#common/grpc.js';
import { CurrentCaller } from '../auth/current-caller.decorator.js';
import { ServiceClients } from '../service-clients.js';
import { AuditQuery } from './dto.js';
import { AuditPageDto } from './users.dto.js';

/** The audit trail, newest first (level admin). */
@Controller('api/v1/audit')
export class AuditController {
  constructor(private readonly clients: ServiceClients) {}

  @Get()
  async list(@CurrentCaller() caller: Caller, @Query() query: AuditQuery): Promise<AuditPageDto> {
    const page = await firstValueFrom(
      this.clients.auth.listAuditEvents(
        {
          pageSize: query.pageSize ?? 100,
          pageToken: query.pageToken ?? '',
          action: query.action ?? '',
          actorId: query.actorId ?? '',
          targetId: query.targetId ?? '',
          outcome: query.outcome ?? '',
          since: query.since ?? '',
          until: query.until ?? '',
          search: query.search ?? '',
        },
        callMetadata(caller.authorization),
      ),
    );
    return {
      items: page.events.map(({ detailsJson, ...event }) => ({ ...event, details: JSON.parse(detailsJson || '{}') as Record<string, unknown> })),
      nextPageToken: page.nextPageToken || null,
    };
  }
}
