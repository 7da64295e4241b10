import { Controller } from '@nestjs/common';
import type { Metadata } from '@grpc/grpc-js';
import {
  CatalogServiceControllerMethods,
  type CatalogServiceController,
  type GetScriptRequest,
  type ListGroupsRequest,
  type ListGroupsResponse,
  type ListScriptsRequest,
  type ListScriptsResponse,
  type Script,
} from '#contracts/generated/scriptorium/catalog/v1/catalog.js';
import { callerOf } from '#common/auth.js';
import { invalidArgument, notFound } from '#common/errors.js';
import { pickLanguage } from '../discovery/localized.js';
import { DiscoveryService } from '../discovery/discovery.service.js';
import { CatalogStore } from './catalog.store.js';
import { canSee, levelsUpTo, matchesQuery, scriptMessage, visibleGroups } from './catalog-views.js';

const MAX_QUERY_LENGTH = 200;

@Controller()
@CatalogServiceControllerMethods()
export class CatalogGrpcController implements CatalogServiceController {
  constructor(
    private readonly store: CatalogStore,
    private readonly discovery: DiscoveryService,
  ) {}

  async listGroups(request: ListGroupsRequest, metadata?: Metadata): Promise<ListGroupsResponse> {
    const caller = callerOf(metadata);
    await this.discovery.whenReady();
    const language = pickLanguage(request.language, caller.language);
    const [groups, scripts] = await Promise.all([this.store.listGroups(), this.store.scriptLevels()]);
    return { groups: visibleGroups(groups, scripts, caller.level, language) };
  }

  async listScripts(request: ListScriptsRequest, metadata?: Metadata): Promise<ListScriptsResponse> {
    const caller = callerOf(metadata);
    await this.discovery.whenReady();
    const language = pickLanguage(request.language, caller.language);
    const query = request.query ?? '';
    if (query.length > MAX_QUERY_LENGTH) {
      throw invalidArgument(`query is too long (at most ${MAX_QUERY_LENGTH} characters)`, { query: `at most ${MAX_QUERY_LENGTH} characters` });
    }
    const groupId = request.groupId?.trim();
    if (groupId) {
      const group = await this.store.findGroup(groupId);
      // A group above the caller's level is reported exactly like one that does not exist.
      if (!group || !canSee(caller.level, group.requiredLevel)) throw notFound(`Script group "${groupId}" not found`);
    }
    const scripts = await this.store.listScripts(levelsUpTo(caller.level), groupId || undefined);
    return {
      scripts: scripts.filter((s) => matchesQuery(s, query, language)).map((s) => scriptMessage(s, language)),
    };
  }

  async getScript(request: GetScriptRequest, metadata?: Metadata): Promise<Script> {
    const caller = callerOf(metadata);
    await this.discovery.whenReady();
    const language = pickLanguage(request.language, caller.language);
    const id = request.scriptId?.trim() ?? '';
    if (!id) throw invalidArgument('script_id is required ("<group>/<file>")', { script_id: 'required' });
    const found = await this.store.getScript(id);
    // A script above the caller's level is reported exactly like one that does not exist.
    if (!found || !canSee(caller.level, found.definition.requiredLevel)) throw notFound(`Script "${id}" not found`);
    return scriptMessage(found.definition, language, found.source);
  }
}
