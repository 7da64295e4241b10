import { Injectable } from '@nestjs/common';
import { LANGUAGES, LEVELS, type Language, type Level } from '#contracts/levels.js';
import type { Group, Script } from '#contracts/generated/scriptorium/catalog/v1/catalog.js';
import { localize } from '../discovery/localized.js';
import type { CatalogSnapshot, GroupDefinition, ScriptDefinition } from '../discovery/loader.js';
import { applyOverrides, type MetadataOverrides } from '../metadata/overrides.js';
import { tagsMatch, type TagMatch } from '../metadata/tags.js';
import { canSee, groupMessage, scriptMessage } from './catalog-views.js';

/** One script as the index holds it: discovery's definition, the edits, and what users see. */
export interface IndexedScript {
  base: ScriptDefinition;
  effective: ScriptDefinition;
  overrides?: MetadataOverrides;
  version: number;
  /** Lower-cased text searched by a query, per answer language (that language and English). */
  haystack: Partial<Record<Language, string>>;
  systemTags: Set<string>;
  levelRank: number;
  /** Built messages per language (without runtime or per-caller fields). */
  messages: Partial<Record<Language, Script>>;
}

export interface ScriptFilter {
  level: Level;
  language: Language;
  groupId?: string;
  query?: string;
  tags?: string[];
  tagMatch?: TagMatch;
  /** The caller's personal tags by script, for tag search and text search. */
  personalTags?: Map<string, string[]>;
}

const rank = (level: string) => LEVELS.indexOf(level as Level);

/**
 * The catalog in memory: discovery's definitions (fed by every scan) merged with
 * the metadata edits (loaded at start, updated on every edit and on edit events
 * from other replicas). Listing and search read only this, so they cost no
 * database round trip; the database stays the source of truth for restarts and
 * for replicas.
 */
@Injectable()
export class CatalogIndex {
  private groups = new Map<string, GroupDefinition>();
  private scripts = new Map<string, IndexedScript>();
  private overrides = new Map<string, { overrides: MetadataOverrides; version: number }>();
  /** Each script's file content, for runs (a changed body need not change the definition). */
  private sources = new Map<string, string>();
  /** Scripts sorted by id; rebuilt lazily after a change. */
  private sorted: IndexedScript[] | undefined;
  /** Visible groups per caller level and language; rebuilt lazily after a change. */
  private groupLists = new Map<string, Group[]>();

  get size(): number {
    return this.scripts.size;
  }

  /** Replaces every definition of the groups in the snapshot (all groups unless `groupIds` limits it). */
  applySnapshot(snapshot: CatalogSnapshot, groupIds?: string[]) {
    const scope = groupIds ? new Set(groupIds) : undefined;
    if (!scope) {
      this.groups = new Map(snapshot.groups.map((g) => [g.id, g]));
      const next = new Map<string, IndexedScript>();
      for (const { definition } of snapshot.scripts) next.set(definition.id, this.reuseOrBuild(definition));
      this.scripts = next;
      this.sources = new Map(snapshot.scripts.map((s) => [s.definition.id, s.source]));
    } else {
      for (const id of scope) this.groups.delete(id);
      for (const g of snapshot.groups) this.groups.set(g.id, g);
      for (const [id, s] of this.scripts) {
        if (!scope.has(s.base.groupId)) continue;
        this.scripts.delete(id);
        this.sources.delete(id);
      }
      for (const { definition, source } of snapshot.scripts) {
        this.scripts.set(definition.id, this.reuseOrBuild(definition));
        this.sources.set(definition.id, source);
      }
    }
    this.changed();
  }

  /** Loads (or replaces) the edits of scripts; an id with no row loses its edits. */
  setOverrides(rows: { scriptId: string; overrides: MetadataOverrides; version: number }[], ids: string[] = rows.map((r) => r.scriptId)) {
    const byId = new Map(rows.map((r) => [r.scriptId, r]));
    for (const id of ids) {
      const row = byId.get(id);
      if (row) this.overrides.set(id, { overrides: row.overrides, version: row.version });
      else this.overrides.delete(id);
      const entry = this.scripts.get(id);
      if (entry) this.scripts.set(id, this.build(entry.base));
    }
    this.changed();
  }

  private changed() {
    this.sorted = undefined;
    this.groupLists.clear();
  }

  /** Replaces every script's edits with `rows` (a restore replaced the stored ones): scripts not in them lose theirs. */
  replaceAllOverrides(rows: { scriptId: string; overrides: MetadataOverrides; version: number }[]) {
    this.setOverrides(rows, [...new Set([...this.overrides.keys(), ...rows.map((r) => r.scriptId)])]);
  }

  overridesOf(id: string): { overrides: MetadataOverrides; version: number } {
    return this.overrides.get(id) ?? { overrides: {}, version: 0 };
  }

  group(id: string): GroupDefinition | undefined {
    return this.groups.get(id);
  }

  script(id: string): IndexedScript | undefined {
    return this.scripts.get(id);
  }

  source(id: string): string | undefined {
    return this.sources.get(id);
  }

  private reuseOrBuild(definition: ScriptDefinition): IndexedScript {
    const existing = this.scripts.get(definition.id);
    // Same object (an unchanged script in a scoped rescan) or identical content: keep the built entry.
    if (existing && (existing.base === definition || JSON.stringify(existing.base) === JSON.stringify(definition))) return existing;
    return this.build(definition);
  }

  private build(base: ScriptDefinition): IndexedScript {
    const edit = this.overrides.get(base.id);
    const groupLevel = this.groups.get(base.groupId)?.requiredLevel ?? 'viewer';
    const effective = applyOverrides(base, edit?.overrides, groupLevel);
    const common = [effective.file, effective.category, ...effective.tags].join('\n');
    const haystack: IndexedScript['haystack'] = {};
    for (const language of LANGUAGES) {
      haystack[language] = [
        localize(effective.name, language),
        localize(effective.name, 'en'),
        localize(effective.description, language),
        localize(effective.description, 'en'),
        common,
      ]
        .join('\n')
        .toLowerCase();
    }
    return {
      base,
      effective,
      overrides: edit?.overrides,
      version: edit?.version ?? 0,
      haystack,
      systemTags: new Set(effective.tags.map((t) => t.toLowerCase())),
      levelRank: rank(effective.requiredLevel),
      messages: {},
    };
  }

  private all(): IndexedScript[] {
    this.sorted ??= [...this.scripts.values()].sort((a, b) => (a.base.id < b.base.id ? -1 : a.base.id > b.base.id ? 1 : 0));
    return this.sorted;
  }

  /** The scripts a caller may see that match the filter, in id order. */
  find(filter: ScriptFilter): IndexedScript[] {
    const callerRank = rank(filter.level);
    const needle = (filter.query ?? '').trim().toLowerCase();
    const wanted = filter.tags ?? [];
    const match = filter.tagMatch ?? 'all';
    const personal = filter.personalTags;
    const result: IndexedScript[] = [];
    for (const s of this.all()) {
      if (s.levelRank < 0 || s.levelRank > callerRank) continue;
      if (filter.groupId && s.base.groupId !== filter.groupId) continue;
      const mine = personal?.get(s.base.id);
      if (needle && !s.haystack[filter.language]!.includes(needle) && !mine?.some((t) => t.includes(needle))) continue;
      if (wanted.length) {
        const have = mine?.length ? new Set([...s.systemTags, ...mine]) : s.systemTags;
        if (!tagsMatch(have, wanted, match)) continue;
      }
      result.push(s);
    }
    return result;
  }

  /** The Script message of an entry in a language (cached; per-caller fields are added by the caller). */
  message(entry: IndexedScript, language: Language): Script {
    let message = entry.messages[language];
    if (!message) {
      message = scriptMessage(entry.effective, language);
      message.edited = entry.version > 0 && !!entry.overrides && Object.keys(entry.overrides).length > 0;
      message.editedFields = editedFieldNames(entry.overrides);
      message.metadataVersion = entry.version;
      entry.messages[language] = message;
    }
    return message;
  }

  /** Groups the caller may see, each with the count of its scripts the caller may see (built once per level and language). */
  visibleGroups(level: Level, language: Language): Group[] {
    const key = `${level}|${language}`;
    let groups = this.groupLists.get(key);
    if (!groups) {
      groups = this.buildVisibleGroups(level, language);
      this.groupLists.set(key, groups);
    }
    return groups;
  }

  private buildVisibleGroups(level: Level, language: Language): Group[] {
    const callerRank = rank(level);
    const counts = new Map<string, number>();
    for (const s of this.scripts.values()) {
      if (s.levelRank >= 0 && s.levelRank <= callerRank) counts.set(s.base.groupId, (counts.get(s.base.groupId) ?? 0) + 1);
    }
    return [...this.groups.values()]
      .filter((g) => canSee(level, g.requiredLevel))
      .map((g) => groupMessage(g, counts.get(g.id) ?? 0, language))
      .sort((a, b) => a.name.localeCompare(b.name));
  }
}

function editedFieldNames(overrides: MetadataOverrides | undefined): string[] {
  if (!overrides) return [];
  const names: Record<keyof MetadataOverrides, string> = {
    description: 'description',
    longDescription: 'long_description',
    requiredLevel: 'required_level',
    category: 'category',
    tags: 'tags',
    parameters: 'parameters',
    timeoutSeconds: 'timeout_seconds',
  };
  return (Object.keys(overrides) as (keyof MetadataOverrides)[]).filter((k) => overrides[k] !== undefined).map((k) => names[k]);
}
