import { Body, Controller, Get, Param, ParseIntPipe, Patch, Post, Put, Query } from '@nestjs/common';
import { firstValueFrom } from 'rxjs';
import type { Script, ScriptMetadataVersion } from '#contracts/generated/scriptorium/catalog/v1/catalog.js';
import type { Caller } from '#common/auth.js';
import { invalidArgument } from '#common/errors.js';
import { callMetadata } from '#common/grpc.js';
import { CurrentCaller } from '../auth/current-caller.decorator.js';
import { ApiErrors } from '../error-body.js';
import { ServiceClients } from '../service-clients.js';
import { GroupDto, MetadataVersionDto, MetadataVersionsDto, ScriptDocumentationDto, ScriptDto, ScriptSearchDto, ScriptTagsDto, TagCountDto } from './catalog.dto.js';
import { CommentDto, LanguageQuery, PersonalTagsDto, SearchQuery, splitTags, toEdit, UpdateMetadataDto } from './dto.js';

/** What the browser gets of a script: everything but how the runtime starts it. */
export function publicScript({ runtime: _runtime, parametersJson, parametersSchemaJson, ...script }: Script): ScriptDto {
  return { ...script, parameters: JSON.parse(parametersJson || '[]'), parametersSchema: JSON.parse(parametersSchemaJson || '{}') };
}

export function publicVersion({ overridesJson, ...version }: ScriptMetadataVersion): MetadataVersionDto {
  return { ...version, overrides: JSON.parse(overridesJson || '{}'), revertedTo: version.revertedTo || undefined };
}

/**
 * REST edge of the catalog. Script sub-resources use the two-segment id form
 * (`/scripts/<group>/<file>/…`), since a script id holds a slash.
 */
@Controller('api/v1')
export class CatalogController {
  constructor(private readonly clients: ServiceClients) {}

  @Get('groups')
  async groups(@CurrentCaller() caller: Caller, @Query('language') language = ''): Promise<GroupDto[]> {
    return (await firstValueFrom(this.clients.catalog.listGroups({ language }, callMetadata(caller.authorization)))).groups;
  }

  @Get('groups/:groupId/scripts')
  async scripts(
    @CurrentCaller() caller: Caller,
    @Param('groupId') groupId: string,
    @Query('q') query = '',
    @Query('language') language = '',
    @Query('tags') tags = '',
    @Query('match') match = '',
  ): Promise<ScriptDto[]> {
    const response = await firstValueFrom(
      this.clients.catalog.listScripts(
        { groupId, query, language, tags: splitTags(tags), tagMatch: match, limit: 0, offset: 0 },
        callMetadata(caller.authorization),
      ),
    );
    return response.scripts.map(publicScript);
  }

  /** Search across groups by text (`q`) and tags (`tags=a,b&match=all|any`, system or personal), paged. */
  @Get('scripts')
  async search(@CurrentCaller() caller: Caller, @Query() q: SearchQuery): Promise<ScriptSearchDto> {
    const response = await firstValueFrom(
      this.clients.catalog.listScripts(
        {
          groupId: q.group ?? '',
          query: q.q ?? '',
          language: q.language ?? '',
          tags: splitTags(q.tags),
          tagMatch: q.match ?? '',
          limit: q.limit ?? 50,
          offset: q.offset ?? 0,
        },
        callMetadata(caller.authorization),
      ),
    );
    return { total: response.total, scripts: response.scripts.map(publicScript) };
  }

  /** The caller's personal tags with the number of scripts carrying each. */
  @Get('tags')
  async myTags(@CurrentCaller() caller: Caller): Promise<TagCountDto[]> {
    return (await firstValueFrom(this.clients.catalog.listMyTags({}, callMetadata(caller.authorization)))).tags;
  }

  /** The script id holds a slash ("group/file"): clients encode it, or use the two-segment form. */
  @Get('scripts/:groupId/:file')
  scriptByParts(@CurrentCaller() caller: Caller, @Param('groupId') groupId: string, @Param('file') file: string, @Query('language') language = ''): Promise<ScriptDto> {
    return this.script(caller, `${groupId}/${file}`, language);
  }

  @Get('scripts/:scriptId')
  scriptById(@CurrentCaller() caller: Caller, @Param('scriptId') scriptId: string, @Query('language') language = ''): Promise<ScriptDto> {
    return this.script(caller, scriptId, language);
  }

  /** Edit metadata (developer, admin): the edit wins over the header until a re-parse. */
  @Patch('scripts/:groupId/:file/metadata')
  @ApiErrors({ 409: 'expectedVersion is not the current version: someone edited the metadata since; reload it' })
  async updateMetadata(@CurrentCaller() caller: Caller, @Param('groupId') groupId: string, @Param('file') file: string, @Body() body: UpdateMetadataDto): Promise<ScriptDto> {
    const { edit, errors } = toEdit(body);
    if (Object.keys(errors).length) throw invalidArgument(Object.values(errors).join('; '), errors);
    const script = await firstValueFrom(
      this.clients.catalog.updateScriptMetadata(
        {
          scriptId: `${groupId}/${file}`,
          edit,
          resetFields: body.reset ?? [],
          comment: body.comment ?? '',
          expectedVersion: body.expectedVersion ?? 0,
          language: body.language ?? '',
        },
        callMetadata(caller.authorization),
      ),
    );
    return publicScript(script);
  }

  /** Drop every edit: the header (as it is now on disk) is used again. */
  @Post('scripts/:groupId/:file/metadata/reparse')
  async reparse(@CurrentCaller() caller: Caller, @Param('groupId') groupId: string, @Param('file') file: string, @Body() body: CommentDto): Promise<ScriptDto> {
    const script = await firstValueFrom(
      this.clients.catalog.reparseScriptMetadata(
        { scriptId: `${groupId}/${file}`, comment: body?.comment ?? '', language: body?.language ?? '' },
        callMetadata(caller.authorization),
      ),
    );
    return publicScript(script);
  }

  @Get('scripts/:groupId/:file/metadata/versions')
  async versions(@CurrentCaller() caller: Caller, @Param('groupId') groupId: string, @Param('file') file: string): Promise<MetadataVersionsDto> {
    const response = await firstValueFrom(
      this.clients.catalog.listScriptMetadataVersions({ scriptId: `${groupId}/${file}` }, callMetadata(caller.authorization)),
    );
    return { currentVersion: response.currentVersion, versions: response.versions.map(publicVersion) };
  }

  /** Make version N's edits current again (as a new version); version 0 means "no edits". */
  @Post('scripts/:groupId/:file/metadata/versions/:version/revert')
  async revert(
    @CurrentCaller() caller: Caller,
    @Param('groupId') groupId: string,
    @Param('file') file: string,
    @Param('version', ParseIntPipe) version: number,
    @Body() body: CommentDto,
  ): Promise<ScriptDto> {
    const script = await firstValueFrom(
      this.clients.catalog.revertScriptMetadata(
        { scriptId: `${groupId}/${file}`, version, comment: body?.comment ?? '', language: body?.language ?? '' },
        callMetadata(caller.authorization),
      ),
    );
    return publicScript(script);
  }

  /** The long description as sanitized HTML (and its Markdown), with English fallback and the languages available. */
  @Get('scripts/:groupId/:file/docs')
  docs(@CurrentCaller() caller: Caller, @Param('groupId') groupId: string, @Param('file') file: string, @Query() q: LanguageQuery): Promise<ScriptDocumentationDto> {
    return firstValueFrom(
      this.clients.catalog.getScriptDocumentation({ scriptId: `${groupId}/${file}`, language: q.language ?? '' }, callMetadata(caller.authorization)),
    );
  }

  /** System tags and the caller's personal tags of a script. */
  @Get('scripts/:groupId/:file/tags')
  tags(@CurrentCaller() caller: Caller, @Param('groupId') groupId: string, @Param('file') file: string): Promise<ScriptTagsDto> {
    return firstValueFrom(this.clients.catalog.getScriptTags({ scriptId: `${groupId}/${file}` }, callMetadata(caller.authorization)));
  }

  /** Replace the caller's personal tags on a script (at most 20, 30 characters, letters, digits, "_" and "-"). */
  @Put('scripts/:groupId/:file/tags')
  setTags(@CurrentCaller() caller: Caller, @Param('groupId') groupId: string, @Param('file') file: string, @Body() body: PersonalTagsDto): Promise<ScriptTagsDto> {
    return firstValueFrom(
      this.clients.catalog.setPersonalTags({ scriptId: `${groupId}/${file}`, tags: body.tags.map(String) }, callMetadata(caller.authorization)),
    );
  }

  private async script(caller: Caller, scriptId: string, language: string): Promise<ScriptDto> {
    return publicScript(await firstValueFrom(this.clients.catalog.getScript({ scriptId, language, omitPersonalTags: false }, callMetadata(caller.authorization))));
  }
}
