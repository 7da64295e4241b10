import { existsSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { Inject, Injectable, Optional, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { EventBus } from '#common/bus.js';
import { rootLogger } from '#common/logger.js';
import { Subjects } from '#contracts/subjects.js';
import type { CatalogConfig } from '../catalog.config.js';
import { CatalogIndex } from '../scripts/catalog-index.js';
import { CatalogStore } from '../scripts/catalog.store.js';
import { discoverCatalog, GROUP_METADATA_FILE, loadGroup, type CatalogSnapshot, type DiscoveryOptions } from './loader.js';
import { watchTree, type TreeWatcher } from './watcher.js';

/** Ids for a log line: all of a few, the first of many (a first scan of 10,000 scripts is one line, not 400 KB). */
function preview(ids: string[], shown = 20): string[] {
  return ids.length <= shown ? ids : [...ids.slice(0, shown), `… and ${ids.length - shown} more`];
}

/**
 * Keeps the stored catalog equal to the script groups tree: a full scan at
 * start-up (before the service answers), then a rescan on every change the file
 * watcher sees, plus a periodic rescan as a safety net. Each rescan that changes
 * something publishes `catalogChanged`.
 */
@Injectable()
export class DiscoveryService implements OnModuleInit, OnApplicationShutdown {
  readonly root: string;
  private readonly options: DiscoveryOptions;
  private readonly ready: Promise<void>;
  private markReady!: () => void;
  private running: Promise<void> | undefined;
  private again = false;
  /** What the follow-up scan must cover: everything, or only these groups. */
  private pendingFull = false;
  private pendingGroups = new Set<string>();
  private watcher: TreeWatcher | undefined;
  private interval: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly store: CatalogStore,
    private readonly bus: EventBus,
    @Inject('SERVICE_CONFIG') private readonly config: CatalogConfig,
    @Optional() private readonly index?: CatalogIndex,
  ) {
    this.root = resolve(config.SCRIPT_GROUPS_DIR);
    this.options = { pythonInterpreter: config.PYTHON_INTERPRETER, defaultImage: config.DEFAULT_IMAGE, nodeImage: config.NODE_IMAGE };
    this.ready = new Promise((done) => (this.markReady = done));
  }

  async onModuleInit() {
    if (!existsSync(this.root)) rootLogger().warn({ root: this.root }, 'script groups folder does not exist; the catalog is empty until it appears');
    await this.rescan('start-up');
    this.markReady();
    this.watcher = watchTree(this.root, (paths) => void this.rescan('change', paths));
    await this.watcher.ready;
    const seconds = this.config.CATALOG_RESCAN_SECONDS;
    if (seconds > 0) {
      this.interval = setInterval(() => void this.rescan('periodic'), seconds * 1000);
      this.interval.unref();
    }
  }

  async onApplicationShutdown() {
    this.stopped = true;
    clearInterval(this.interval);
    await this.watcher?.close();
    await this.running?.catch(() => undefined);
  }

  /** Resolves once the first scan is stored; API calls wait for it. */
  whenReady(): Promise<void> {
    return this.ready;
  }

  /**
   * Rescans the tree; concurrent requests collapse into one follow-up scan.
   * Changes confined to known group folders rescan only those groups (a changed
   * file in a 10,000-script tree costs one group's reads); anything else, and
   * start-up or periodic scans, rescan everything. Resolves when stored.
   */
  rescan(reason: string, paths: string[] = []): Promise<void> {
    const groups = reason === 'change' ? this.groupsOf(paths) : undefined;
    if (groups) for (const g of groups) this.pendingGroups.add(g);
    else this.pendingFull = true;
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          if (this.stopped) return;
          const full = this.pendingFull;
          const scope = [...this.pendingGroups].sort();
          this.pendingFull = false;
          this.pendingGroups.clear();
          await this.scanOnce(reason, paths, full ? undefined : scope);
        } while (this.again);
      } finally {
        this.running = undefined;
      }
    })();
    const run = this.running;
    if (reason !== 'start-up') run.catch((error) => rootLogger().error({ err: error, reason }, 'catalog rescan failed'));
    return run;
  }

  /** The group folders holding the changed paths, or undefined when a change is outside any group folder. */
  private groupsOf(paths: string[]): string[] | undefined {
    if (!paths.length) return undefined;
    const groups = new Set<string>();
    for (const path of paths) {
      const parts = relative(this.root, path).split(sep);
      // The root itself, a file at the top, or a whole group folder appearing/disappearing: rescan all.
      if (parts.length < 2 || parts[0] === '..' || parts[0] === '' || parts[0].startsWith('.')) return undefined;
      groups.add(parts[0]);
    }
    return [...groups];
  }

  private async loadGroups(ids: string[]): Promise<CatalogSnapshot> {
    const snapshot: CatalogSnapshot = { groups: [], scripts: [] };
    for (const id of ids) {
      const dir = join(this.root, id);
      if (!existsSync(join(dir, GROUP_METADATA_FILE))) continue; // gone: its scripts are removed
      const loaded = await loadGroup(dir, id, this.options);
      snapshot.groups.push(...loaded.groups);
      snapshot.scripts.push(...loaded.scripts);
    }
    return snapshot;
  }

  private async scanOnce(reason: string, paths: string[], scope?: string[]) {
    const started = Date.now();
    const scoped = scope !== undefined && typeof this.store.syncGroups === 'function';
    const snapshot = scoped ? await this.loadGroups(scope) : await discoverCatalog(this.root, this.options);
    const changes = scoped ? await this.store.syncGroups(snapshot, scope) : await this.store.sync(snapshot);
    this.index?.applySnapshot(snapshot, scoped ? scope : undefined);
    const { added, changed, removed } = changes;
    if (added.length || changed.length || removed.length || changes.groupsChanged) {
      this.bus.publish(Subjects.catalogChanged, { added, changed, removed });
      const invalid = snapshot.scripts.filter((s) => !s.definition.valid).map((s) => s.definition.id);
      rootLogger().info(
        { reason, added: preview(added), changed: preview(changed), removed: preview(removed), invalid: preview(invalid), ms: Date.now() - started, paths: paths.length },
        'catalog updated',
      );
    }
  }
}
