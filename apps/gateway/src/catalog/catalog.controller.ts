import { Controller, Get, Param, Query } from '@nestjs/common';
import { firstValueFrom } from 'rxjs';
import type { Script } from '#contracts/generated/scriptorium/catalog/v1/catalog.js';
import type { Caller } from '#common/auth.js';
import { callMetadata } from '#common/grpc.js';
import { CurrentCaller } from '../auth/current-caller.decorator.js';
import { ServiceClients } from '../service-clients.js';

/** What the browser gets of a script: everything but how the runtime starts it. */
export function publicScript({ runtime: _runtime, parametersJson, parametersSchemaJson, ...script }: Script) {
  return { ...script, parameters: JSON.parse(parametersJson || '[]'), parametersSchema: JSON.parse(parametersSchemaJson || '{}') };
}

@Controller('api/v1')
export class CatalogController {
  constructor(private readonly clients: ServiceClients) {}

  @Get('groups')
  async groups(@CurrentCaller() caller: Caller, @Query('language') language = '') {
    return (await firstValueFrom(this.clients.catalog.listGroups({ language }, callMetadata(caller.authorization)))).groups;
  }

  @Get('groups/:groupId/scripts')
  async scripts(@CurrentCaller() caller: Caller, @Param('groupId') groupId: string, @Query('q') query = '', @Query('language') language = '') {
    const response = await firstValueFrom(this.clients.catalog.listScripts({ groupId, query, language }, callMetadata(caller.authorization)));
    return response.scripts.map(publicScript);
  }

  /** The script id holds a slash ("group/file"): clients encode it, or use the two-segment form. */
  @Get('scripts/:groupId/:file')
  scriptByParts(@CurrentCaller() caller: Caller, @Param('groupId') groupId: string, @Param('file') file: string, @Query('language') language = '') {
    return this.script(caller, `${groupId}/${file}`, language);
  }

  @Get('scripts/:scriptId')
  scriptById(@CurrentCaller() caller: Caller, @Param('scriptId') scriptId: string, @Query('language') language = '') {
    return this.script(caller, scriptId, language);
  }

  private async script(caller: Caller, scriptId: string, language: string) {
    return publicScript(await firstValueFrom(this.clients.catalog.getScript({ scriptId, language }, callMetadata(caller.authorization))));
  }
}
