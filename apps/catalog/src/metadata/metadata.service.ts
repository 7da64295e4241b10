import { Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { requireLevel, type Caller } from '#common/auth.js';
import { EventBus } from '#common/bus.js';
import { DomainError, invalidArgument, notFound } from '#common/errors.js';
import { rootLogger } from '#common/logger.js';
import type { Language } from '#contracts/levels.js';
import type { ScriptMetadataEdit } from '#contracts/generated/scriptorium/catalog/v1/catalog.js';
import { Subjects } from '#contracts/subjects.js';
import { DiscoveryService } from '../discovery/discovery.service.js';
import { availableLanguages, renderMarkdown, resolveDoc } from '../docs/markdown.js';
import { CatalogIndex, type IndexedScript } from '../scripts/catalog-index.js';
import { canSee } from '../scripts/catalog-views.js';
import { PersonalTagsRepository } from './personal-tags.repository.js';
import { ScriptMetadataRepository, type MetadataVersion } from './script-metadata.repository.js';
import { applyEdit, editedFields, MAX_COMMENT_LENGTH, type EditableField, type MetadataOverrides } from './overrides.js';
import { checkTags } from './tags.js';

const aborted = (message: string) => new DomainError(GrpcStatus.ABORTED, message);
const MAX_ATTEMPTS = 3;

/** Who may edit metadata. */
export const EDITOR_LEVEL = 'developer';

/**
 * Metadata edits (with versions), re-parse, revert, documentation and personal
 * tags. Permission order: a script the caller may not see is NOT_FOUND (as if
 * it did not exist), then a caller below developer gets PERMISSION_DENIED.
 */
@Injectable()
export class MetadataService implements OnModuleInit, OnModuleDestroy {
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly index: CatalogIndex,
    private readonly scriptMetadata: ScriptMetadataRepository,
    private readonly personalTags: PersonalTagsRepository,
    private readonly bus: EventBus,
    private readonly discovery: DiscoveryService,
  ) {}

  async onModuleInit() {
    this.index.setOverrides(await this.scriptMetadata.allOverrides());
    // Edits made through another replica: reload those scripts' edits.
    this.unsubscribe = this.bus.subscribe(Subjects.catalogChanged, async (event) => {
      const ids = event.changed ?? [];
      if (!ids.length || ids.length > 200) return;
      try {
        this.index.setOverrides(await this.scriptMetadata.overridesOf(ids), ids);
      } catch (error) {
        rootLogger().warn({ err: error }, 'could not reload metadata edits');
      }
    });
  }

  onModuleDestroy() {
    this.unsubscribe?.();
  }

  /** Reads every script's edits again, after a restore replaced the catalog's tables. */
  async reloadEdits(): Promise<void> {
    this.index.replaceAllOverrides(await this.scriptMetadata.allOverrides());
  }

  /** The script if the caller may see it; NOT_FOUND otherwise (same message either way). */
  visible(caller: Caller, id: string): IndexedScript {
    const scriptId = id?.trim() ?? '';
    if (!scriptId) throw invalidArgument('script_id is required ("<group>/<file>")', { script_id: 'required' });
    const entry = this.index.script(scriptId);
    if (!entry || !canSee(caller.level, entry.effective.requiredLevel)) throw notFound(`Script "${scriptId}" not found`);
    return entry;
  }

  private editable(caller: Caller, id: string): IndexedScript {
    const entry = this.visible(caller, id);
    requireLevel(caller, EDITOR_LEVEL, 'Editing script metadata');
    return entry;
  }

  private checkComment(comment: string | undefined): string {
    const text = (comment ?? '').trim();
    if (text.length > MAX_COMMENT_LENGTH) throw invalidArgument('comment is too long', { comment: `at most ${MAX_COMMENT_LENGTH} characters` });
    return text;
  }

  /** Writes a version computed from the current overrides; retries when another edit came first. */
  private async commit(
    caller: Caller,
    scriptId: string,
    expectedVersion: number,
    compute: (current: MetadataOverrides) => { overrides: MetadataOverrides; changed: string[]; action: MetadataVersion['action']; revertedTo?: number },
    comment: string,
  ): Promise<void> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const current = await this.scriptMetadata.current(scriptId);
      if (expectedVersion > 0 && current.version !== expectedVersion) {
        throw aborted(`The metadata of "${scriptId}" changed meanwhile (now version ${current.version}, you edited version ${expectedVersion}); reload and edit again`);
      }
      const next = compute(current.overrides);
      const version = await this.scriptMetadata.addVersion({
        scriptId,
        basedOn: current.version,
        action: next.action,
        overrides: next.overrides,
        changedFields: next.changed,
        authorId: caller.userId,
        authorName: caller.username,
        comment,
        revertedTo: next.revertedTo,
      });
      if (version !== undefined) {
        this.index.setOverrides([{ scriptId, overrides: next.overrides, version }]);
        this.bus.publish(Subjects.catalogChanged, { added: [], changed: [scriptId], removed: [] });
        // Every metadata change lands in auth's audit trail: who, what, which fields, which version.
        this.bus.publish(Subjects.auditActionPerformed, {
          service: 'catalog',
          action: `script.metadata_${next.action}`,
          outcome: 'success',
          actorId: caller.userId,
          actorUsername: caller.username,
          targetType: 'script',
          targetId: scriptId,
          details: { version, changedFields: next.changed, ...(next.revertedTo === undefined ? {} : { revertedTo: next.revertedTo }), ...(comment ? { comment } : {}) },
        });
        return;
      }
      if (expectedVersion > 0) break;
    }
    throw aborted(`The metadata of "${scriptId}" is being changed by someone else; try again`);
  }

  async update(
    caller: Caller,
    request: { scriptId: string; edit?: ScriptMetadataEdit; resetFields?: string[]; comment?: string; expectedVersion?: number },
  ): Promise<IndexedScript> {
    const entry = this.editable(caller, request.scriptId);
    const scriptId = entry.base.id;
    const comment = this.checkComment(request.comment);
    const groupLevel = this.index.group(entry.base.groupId)?.requiredLevel ?? 'viewer';
    const input = { edit: request.edit, resetFields: request.resetFields ?? [] };
    // Validate once up front so a bad edit never reaches the database.
    const first = applyEdit(this.index.overridesOf(scriptId).overrides, input, groupLevel);
    if (Object.keys(first.errors).length) {
      throw invalidArgument(`The metadata edit is not valid: ${Object.entries(first.errors).map(([k, v]) => `${k}: ${v}`).join('; ')}`, first.errors);
    }
    await this.commit(
      caller,
      scriptId,
      request.expectedVersion ?? 0,
      (current) => {
        const checked = applyEdit(current, input, groupLevel);
        if (Object.keys(checked.errors).length) throw invalidArgument('The metadata edit is not valid', checked.errors);
        return { overrides: checked.overrides, changed: checked.changed as EditableField[], action: 'edit' };
      },
      comment,
    );
    return this.index.script(scriptId)!;
  }

  /** Drops every edit (a new version) after rescanning the tree, so the header as it is now wins. */
  async reparse(caller: Caller, request: { scriptId: string; comment?: string }): Promise<IndexedScript> {
    const entry = this.editable(caller, request.scriptId);
    const comment = this.checkComment(request.comment);
    await this.discovery.rescan('reparse');
    const scriptId = entry.base.id;
    await this.commit(caller, scriptId, 0, (current) => ({ overrides: {}, changed: editedFields(current), action: 'reparse' }), comment);
    const after = this.index.script(scriptId);
    if (!after) throw notFound(`Script "${scriptId}" not found`);
    return after;
  }

  async versions(caller: Caller, scriptId: string): Promise<{ versions: MetadataVersion[]; current: number }> {
    const entry = this.editable(caller, scriptId);
    const versions = await this.scriptMetadata.versions(entry.base.id);
    return { versions, current: versions[0]?.version ?? 0 };
  }

  /** Makes the overrides of `version` current again, as a new version. Version 0 is "no edits". */
  async revert(caller: Caller, request: { scriptId: string; version: number; comment?: string }): Promise<IndexedScript> {
    const entry = this.editable(caller, request.scriptId);
    const scriptId = entry.base.id;
    const comment = this.checkComment(request.comment);
    const version = request.version;
    if (!Number.isInteger(version) || version < 0) throw invalidArgument('version must be a version number', { version: 'must be 0 or more' });
    let target: MetadataOverrides = {};
    if (version > 0) {
      const found = await this.scriptMetadata.version(scriptId, version);
      if (!found) throw notFound(`Version ${version} of the metadata of "${scriptId}" not found`);
      target = found.overrides;
    }
    // A level edit of an old version may now be below a stricter group: refuse rather than widen access silently.
    const groupLevel = this.index.group(entry.base.groupId)?.requiredLevel ?? 'viewer';
    const check = applyEdit({}, { edit: toEdit(target), resetFields: [] }, groupLevel);
    if (Object.keys(target).length && Object.keys(check.errors).length) {
      throw invalidArgument(`Version ${version} cannot be restored as it is`, check.errors);
    }
    await this.commit(
      caller,
      scriptId,
      0,
      (current) => ({
        overrides: structuredClone(target),
        changed: [...new Set([...editedFields(current), ...editedFields(target)])],
        action: 'revert',
        revertedTo: version,
      }),
      comment,
    );
    return this.index.script(scriptId)!;
  }

  documentation(caller: Caller, scriptId: string, language: Language, requested: Language) {
    const entry = this.visible(caller, scriptId);
    const docs = entry.effective.docs;
    const resolved = resolveDoc(docs, language);
    const fromEdit = resolved.language !== undefined && entry.overrides?.longDescription?.[resolved.language] !== undefined;
    return {
      scriptId: entry.base.id,
      requestedLanguage: requested,
      language: resolved.language ?? '',
      fallback: resolved.fallback,
      markdown: resolved.markdown,
      html: renderMarkdown(resolved.markdown),
      availableLanguages: availableLanguages(docs),
      source: resolved.language === undefined ? '' : fromEdit ? 'edit' : 'header',
    };
  }

  async setPersonalTags(caller: Caller, scriptId: string, raw: string[]) {
    const entry = this.visible(caller, scriptId);
    const { tags, errors } = checkTags(raw);
    if (Object.keys(errors).length) {
      throw invalidArgument(`The tags are not valid: ${Object.entries(errors).map(([k, v]) => `${k}: ${v}`).join('; ')}`, errors);
    }
    await this.personalTags.replace(caller.userId, entry.base.id, tags);
    return this.tags(caller, entry.base.id);
  }

  async tags(caller: Caller, scriptId: string) {
    const entry = this.visible(caller, scriptId);
    return { scriptId: entry.base.id, systemTags: entry.effective.tags, personalTags: await this.personalTags.of(caller.userId, entry.base.id) };
  }

  /** The caller's tags with how many scripts (that they can still see) carry each. */
  async myTags(caller: Caller) {
    const byScript = await this.personalTags.byScript(caller.userId);
    const counts = new Map<string, number>();
    for (const [scriptId, tags] of byScript) {
      const entry = this.index.script(scriptId);
      if (!entry || !canSee(caller.level, entry.effective.requiredLevel)) continue;
      for (const tag of tags) counts.set(tag, (counts.get(tag) ?? 0) + 1);
    }
    return [...counts].map(([tag, count]) => ({ tag, count })).sort((a, b) => b.count - a.count || a.tag.localeCompare(b.tag));
  }

  personalTagsByScript(caller: Caller) {
    return this.personalTags.byScript(caller.userId);
  }
}

/** The overrides as an edit message, to re-validate an old version. */
function toEdit(o: MetadataOverrides): ScriptMetadataEdit {
  return {
    description: o.description ? { values: o.description as Record<string, string> } : undefined,
    longDescription: o.longDescription ? { values: o.longDescription as Record<string, string> } : undefined,
    requiredLevel: o.requiredLevel,
    category: o.category,
    tags: o.tags ? { tags: o.tags } : undefined,
    parametersJson: o.parameters ? JSON.stringify(o.parameters) : undefined,
    timeoutSeconds: o.timeoutSeconds,
  };
}
