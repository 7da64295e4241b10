import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { In, type Repository } from 'typeorm';
import type { CatalogSnapshot, GroupDefinition, ScriptDefinition } from '../discovery/loader.js';
import { CatalogGroup, CatalogScript } from './catalog.entities.js';

export interface CatalogChanges {
  added: string[];
  changed: string[];
  removed: string[];
  groupsChanged: boolean;
}

export interface SyncPlan {
  groupRows: { id: string; requiredLevel: string; definition: GroupDefinition; hash: string }[];
  scriptRows: { id: string; groupId: string; file: string; requiredLevel: string; valid: boolean; definition: ScriptDefinition; source: string; hash: string }[];
  removedGroups: string[];
  changes: CatalogChanges;
}

const sha = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * What a snapshot changes against the stored hashes: only new or different rows
 * are written, so replicas scanning the same tree agree and write nothing twice.
 */
export function planSync(
  storedGroups: Map<string, string>,
  storedScripts: Map<string, string>,
  snapshot: CatalogSnapshot,
): SyncPlan {
  const groupHashes = new Map(snapshot.groups.map((g) => [g.id, sha(JSON.stringify(g))]));
  const groupRows = snapshot.groups
    .filter((g) => storedGroups.get(g.id) !== groupHashes.get(g.id))
    .map((g) => ({ id: g.id, requiredLevel: g.requiredLevel, definition: g, hash: groupHashes.get(g.id)! }));
  const changes: CatalogChanges = { added: [], changed: [], removed: [], groupsChanged: false };
  const scriptRows: SyncPlan['scriptRows'] = [];
  const seen = new Set<string>();
  for (const { definition, source } of snapshot.scripts) {
    seen.add(definition.id);
    const hash = sha(`${JSON.stringify(definition)}\n${source}`);
    const before = storedScripts.get(definition.id);
    if (before === hash) continue;
    (before === undefined ? changes.added : changes.changed).push(definition.id);
    scriptRows.push({
      id: definition.id,
      groupId: definition.groupId,
      file: definition.file,
      requiredLevel: definition.requiredLevel,
      valid: definition.valid,
      definition,
      source,
      hash,
    });
  }
  changes.removed = [...storedScripts.keys()].filter((id) => !seen.has(id)).sort();
  const removedGroups = [...storedGroups.keys()].filter((id) => !groupHashes.has(id));
  changes.groupsChanged = groupRows.length > 0 || removedGroups.length > 0;
  return { groupRows, scriptRows, removedGroups, changes };
}

/** Rows per upsert statement (9 parameters a row, far below the 65,535 limit). */
const CHUNK = 500;

/**
 * The catalog's tables. Every write is one autocommitted statement (no
 * transactions, no session state), since all-in-one shares one connection.
 */
@Injectable()
export class CatalogStore {
  constructor(
    @InjectRepository(CatalogGroup) private readonly groups: Repository<CatalogGroup>,
    @InjectRepository(CatalogScript) private readonly scripts: Repository<CatalogScript>,
  ) {}

  async sync(snapshot: CatalogSnapshot): Promise<CatalogChanges> {
    const storedGroups = new Map((await this.groups.find({ select: { id: true, hash: true } })).map((g) => [g.id, g.hash]));
    const storedScripts = new Map((await this.scripts.find({ select: { id: true, hash: true } })).map((s) => [s.id, s.hash]));
    return this.write(planSync(storedGroups, storedScripts, snapshot));
  }

  /** Like sync, for a snapshot of only the named groups: rows of other groups are left alone. */
  async syncGroups(snapshot: CatalogSnapshot, groupIds: string[]): Promise<CatalogChanges> {
    if (!groupIds.length) return { added: [], changed: [], removed: [], groupsChanged: false };
    const storedGroups = new Map(
      (await this.groups.find({ select: { id: true, hash: true }, where: { id: In(groupIds) } })).map((g) => [g.id, g.hash]),
    );
    const storedScripts = new Map(
      (await this.scripts.find({ select: { id: true, hash: true }, where: { groupId: In(groupIds) } })).map((s) => [s.id, s.hash]),
    );
    return this.write(planSync(storedGroups, storedScripts, snapshot));
  }

  private async write(plan: SyncPlan): Promise<CatalogChanges> {
    const now = new Date();
    for (let i = 0; i < plan.groupRows.length; i += CHUNK) {
      await this.groups.upsert(plan.groupRows.slice(i, i + CHUNK).map((r) => ({ ...r, updatedAt: now })), ['id']);
    }
    for (let i = 0; i < plan.scriptRows.length; i += CHUNK) {
      await this.scripts.upsert(plan.scriptRows.slice(i, i + CHUNK).map((r) => ({ ...r, updatedAt: now })) as never, ['id']);
    }
    for (let i = 0; i < plan.changes.removed.length; i += CHUNK) {
      await this.scripts.delete({ id: In(plan.changes.removed.slice(i, i + CHUNK)) });
    }
    if (plan.removedGroups.length) await this.groups.delete({ id: In(plan.removedGroups) });
    return plan.changes;
  }
}
