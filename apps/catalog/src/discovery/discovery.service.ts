import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { EventBus } from '#common/bus.js';
import { rootLogger } from '#common/logger.js';
import { Subjects } from '#contracts/subjects.js';
import type { CatalogConfig } from '../catalog.config.js';
import { CatalogStore } from '../scripts/catalog.store.js';
import { discoverCatalog, type DiscoveryOptions } from './loader.js';
import { watchTree, type TreeWatcher } from './watcher.js';

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
  private watcher: TreeWatcher | undefined;
  private interval: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly store: CatalogStore,
    private readonly bus: EventBus,
    @Inject('SERVICE_CONFIG') private readonly config: CatalogConfig,
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

  /** Rescans the tree; concurrent requests collapse into one follow-up scan. Resolves when the tree is stored. */
  rescan(reason: string, paths: string[] = []): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          if (this.stopped) return;
          await this.scanOnce(reason, paths);
        } while (this.again);
      } finally {
        this.running = undefined;
      }
    })();
    const run = this.running;
    if (reason !== 'start-up') run.catch((error) => rootLogger().error({ err: error, reason }, 'catalog rescan failed'));
    return run;
  }

  private async scanOnce(reason: string, paths: string[]) {
    const started = Date.now();
    const snapshot = await discoverCatalog(this.root, this.options);
    const changes = await this.store.sync(snapshot);
    const { added, changed, removed } = changes;
    if (added.length || changed.length || removed.length || changes.groupsChanged) {
      this.bus.publish(Subjects.catalogChanged, { added, changed, removed });
      rootLogger().info(
        { reason, added, changed, removed, invalid: snapshot.scripts.filter((s) => !s.definition.valid).map((s) => s.definition.id), ms: Date.now() - started, paths: paths.length },
        'catalog updated',
      );
    }
  }
}
