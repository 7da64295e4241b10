import { Controller } from '@nestjs/common';
import type { Metadata } from '@grpc/grpc-js';
import {
  CatalogServiceControllerMethods,
  type CatalogServiceController,
  type GetScriptDocumentationRequest,
  type GetScriptRequest,
  type GetScriptTagsRequest,
  type ListGroupsRequest,
  type ListGroupsResponse,
  type ListMyTagsRequest,
  type ListMyTagsResponse,
  type ListScriptMetadataVersionsRequest,
  type ListScriptMetadataVersionsResponse,
  type ListScriptsRequest,
  type ListScriptsResponse,
  type ReparseScriptMetadataRequest,
  type RevertScriptMetadataRequest,
  type Script,
  type ScriptDocumentation,
  type ScriptTags,
  type SetPersonalTagsRequest,
  type UpdateScriptMetadataRequest,
} from '#contracts/generated/scriptorium/catalog/v1/catalog.js';
import { callerOf, type Caller } from '#common/auth.js';
import { invalidArgument, notFound } from '#common/errors.js';
import type { Language } from '#contracts/levels.js';
import { pickLanguage } from '../discovery/localized.js';
import { DiscoveryService } from '../discovery/discovery.service.js';
import { MetadataService } from '../metadata/metadata.service.js';
import { checkQueryTags, parseTagMatch } from '../metadata/tags.js';
import { CatalogIndex, type IndexedScript } from './catalog-index.js';
import { canSee } from './catalog-views.js';

const MAX_QUERY_LENGTH = 200;
const MAX_PAGE = 10_000;

@Controller()
@CatalogServiceControllerMethods()
export class CatalogGrpcController implements CatalogServiceController {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly index: CatalogIndex,
    private readonly metadata: MetadataService,
  ) {}

  async listGroups(request: ListGroupsRequest, metadata?: Metadata): Promise<ListGroupsResponse> {
    const caller = callerOf(metadata);
    await this.discovery.whenReady();
    return { groups: this.index.visibleGroups(caller.level, pickLanguage(request.language, caller.language)) };
  }

  async listScripts(request: ListScriptsRequest, metadata?: Metadata): Promise<ListScriptsResponse> {
    const caller = callerOf(metadata);
    await this.discovery.whenReady();
    const language = pickLanguage(request.language, caller.language);
    const query = request.query ?? '';
    if (query.length > MAX_QUERY_LENGTH) {
      throw invalidArgument(`query is too long (at most ${MAX_QUERY_LENGTH} characters)`, { query: `at most ${MAX_QUERY_LENGTH} characters` });
    }
    const tagMatch = parseTagMatch(request.tagMatch);
    if (!tagMatch) throw invalidArgument('tag_match must be "all" or "any"', { tag_match: 'must be "all" or "any"' });
    const { tags, errors } = checkQueryTags(request.tags ?? []);
    if (Object.keys(errors).length) throw invalidArgument(`tags are not valid: ${Object.values(errors).join('; ')}`, errors);
    const limit = request.limit ?? 0;
    const offset = request.offset ?? 0;
    if (limit < 0 || limit > MAX_PAGE || offset < 0) {
      throw invalidArgument(`limit must be 0 (all) to ${MAX_PAGE} and offset 0 or more`, { ...(limit < 0 || limit > MAX_PAGE ? { limit: `0 to ${MAX_PAGE}` } : {}), ...(offset < 0 ? { offset: '0 or more' } : {}) });
    }
    const groupId = request.groupId?.trim();
    if (groupId) {
      const group = this.index.group(groupId);
      // A group above the caller's level is reported exactly like one that does not exist.
      if (!group || !canSee(caller.level, group.requiredLevel)) throw notFound(`Script group "${groupId}" not found`);
    }
    // Personal tags matter only to tag and text search; skip the query otherwise.
    const personalTags = tags.length || query.trim() ? await this.metadata.personalTagsByScript(caller) : new Map<string, string[]>();
    const found = this.index.find({ level: caller.level, language, groupId: groupId || undefined, query, tags, tagMatch, personalTags });
    const page = limit ? found.slice(offset, offset + limit) : found.slice(offset);
    return { scripts: page.map((s) => this.message(s, language, personalTags)), total: found.length };
  }

  async getScript(request: GetScriptRequest, metadata?: Metadata): Promise<Script> {
    const caller = callerOf(metadata);
    await this.discovery.whenReady();
    const language = pickLanguage(request.language, caller.language);
    const entry = this.metadata.visible(caller, request.scriptId);
    const source = this.index.source(entry.base.id);
    if (source === undefined) throw notFound(`Script "${entry.base.id}" not found`);
    const personalTags = request.omitPersonalTags ? [] : (await this.metadata.tags(caller, entry.base.id)).personalTags;
    const { effective } = entry;
    return {
      ...this.index.message(entry, language),
      personalTags,
      runtime: { path: effective.path, interpreter: effective.interpreter, image: effective.image, source },
    };
  }

  async updateScriptMetadata(request: UpdateScriptMetadataRequest, metadata?: Metadata): Promise<Script> {
    const caller = callerOf(metadata);
    await this.discovery.whenReady();
    const entry = await this.metadata.update(caller, request);
    return this.withPersonal(caller, entry, pickLanguage(request.language, caller.language));
  }

  async reparseScriptMetadata(request: ReparseScriptMetadataRequest, metadata?: Metadata): Promise<Script> {
    const caller = callerOf(metadata);
    await this.discovery.whenReady();
    const entry = await this.metadata.reparse(caller, request);
    return this.withPersonal(caller, entry, pickLanguage(request.language, caller.language));
  }

  async listScriptMetadataVersions(request: ListScriptMetadataVersionsRequest, metadata?: Metadata): Promise<ListScriptMetadataVersionsResponse> {
    const caller = callerOf(metadata);
    await this.discovery.whenReady();
    const { versions, current } = await this.metadata.versions(caller, request.scriptId);
    return {
      currentVersion: current,
      versions: versions.map((v) => ({
        version: v.version,
        action: v.action,
        authorId: v.authorId,
        authorName: v.authorName,
        createdAt: v.createdAt.toISOString(),
        comment: v.comment,
        overridesJson: JSON.stringify(v.overrides),
        changedFields: v.changedFields,
        revertedTo: v.revertedTo ?? 0,
      })),
    };
  }

  async revertScriptMetadata(request: RevertScriptMetadataRequest, metadata?: Metadata): Promise<Script> {
    const caller = callerOf(metadata);
    await this.discovery.whenReady();
    const entry = await this.metadata.revert(caller, request);
    return this.withPersonal(caller, entry, pickLanguage(request.language, caller.language));
  }

  async getScriptDocumentation(request: GetScriptDocumentationRequest, metadata?: Metadata): Promise<ScriptDocumentation> {
    const caller = callerOf(metadata);
    await this.discovery.whenReady();
    const language = pickLanguage(request.language, caller.language);
    return this.metadata.documentation(caller, request.scriptId, language, language);
  }

  async setPersonalTags(request: SetPersonalTagsRequest, metadata?: Metadata): Promise<ScriptTags> {
    const caller = callerOf(metadata);
    await this.discovery.whenReady();
    return this.metadata.setPersonalTags(caller, request.scriptId, request.tags ?? []);
  }

  async getScriptTags(request: GetScriptTagsRequest, metadata?: Metadata): Promise<ScriptTags> {
    const caller = callerOf(metadata);
    await this.discovery.whenReady();
    return this.metadata.tags(caller, request.scriptId);
  }

  async listMyTags(_request: ListMyTagsRequest, metadata?: Metadata): Promise<ListMyTagsResponse> {
    const caller = callerOf(metadata);
    await this.discovery.whenReady();
    return { tags: await this.metadata.myTags(caller) };
  }

  private message(entry: IndexedScript, language: Language, personalTags: Map<string, string[]>): Script {
    const base = this.index.message(entry, language);
    const mine = personalTags.get(entry.base.id);
    return mine?.length ? { ...base, personalTags: mine } : base;
  }

  private async withPersonal(caller: Caller, entry: IndexedScript, language: Language): Promise<Script> {
    return { ...this.index.message(entry, language), personalTags: (await this.metadata.tags(caller, entry.base.id)).personalTags };
  }
}
