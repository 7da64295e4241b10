import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InProcessEventBus } from '#common/bus.js';
import type { CatalogChangedEvent } from '#contracts/events.js';
import { Subjects } from '#contracts/subjects.js';
import type { CatalogConfig } from '../catalog.config.js';
import { planSync, type CatalogStore } from '../scripts/catalog.store.js';
import { DiscoveryService } from './discovery.service.js';
import type { CatalogSnapshot } from './loader.js';
import { isIgnoredPath } from './watcher.js';

/** The store's sync over in-memory hashes: the same plan, no database. */
class MemoryStore {
  groups = new Map<string, string>();
  scripts = new Map<string, string>();
  syncs = 0;
  async sync(snapshot: CatalogSnapshot) {
    this.syncs++;
    const plan = planSync(this.groups, this.scripts, snapshot);
    for (const r of plan.groupRows) this.groups.set(r.id, r.hash);
    for (const id of plan.removedGroups) this.groups.delete(id);
    for (const r of plan.scriptRows) this.scripts.set(r.id, r.hash);
    for (const id of plan.changes.removed) this.scripts.delete(id);
    return plan.changes;
  }
}

function nextEvent(bus: InProcessEventBus, timeoutMs: number): Promise<CatalogChangedEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`no ${Subjects.catalogChanged} within ${timeoutMs} ms`));
    }, timeoutMs);
    const stop = bus.subscribe(Subjects.catalogChanged, (event) => {
      clearTimeout(timer);
      stop();
      resolve(event);
    });
  });
}

describe('DiscoveryService (hot reload)', () => {
  let root: string;
  let store: MemoryStore;
  let bus: InProcessEventBus;
  let service: DiscoveryService;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'catalog-watch-'));
    await mkdir(join(root, 'tools'));
    await writeFile(join(root, 'tools', 'metadata.json'), JSON.stringify({ name: 'Tools', required_level: 'operator' }));
    await writeFile(join(root, 'tools', 'one.py'), '"""\nScriptsManager Metadata:\n@description: One\n"""\n');
    store = new MemoryStore();
    bus = new InProcessEventBus();
    const config = { SCRIPT_GROUPS_DIR: root, PYTHON_INTERPRETER: 'python3', DEFAULT_IMAGE: 'py', NODE_IMAGE: 'node', CATALOG_RESCAN_SECONDS: 0 } as CatalogConfig;
    service = new DiscoveryService(store as unknown as CatalogStore, bus, config);
    const first = nextEvent(bus, 2000);
    await service.onModuleInit();
    assert.deepEqual((await first).added, ['tools/one.py']);
    await service.whenReady();
  });
  after(async () => {
    await service.onApplicationShutdown();
    await rm(root, { recursive: true, force: true });
  });

  it('scans before it is ready', () => {
    assert.deepEqual([...store.scripts.keys()], ['tools/one.py']);
  });

  it('reflects an added script within a second', async () => {
    const event = nextEvent(bus, 1000);
    await writeFile(join(root, 'tools', 'two.sh'), '# ScriptsManager Metadata:\n# @description: Two\n');
    assert.deepEqual(await event, { ...(await event), added: ['tools/two.sh'], changed: [], removed: [] });
  });

  it('reflects a changed script within a second', async () => {
    const event = nextEvent(bus, 1000);
    await writeFile(join(root, 'tools', 'one.py'), '"""\nScriptsManager Metadata:\n@description: One, edited\n"""\n');
    assert.deepEqual((await event).changed, ['tools/one.py']);
  });

  it('reflects a deleted script within a second', async () => {
    const event = nextEvent(bus, 1000);
    await unlink(join(root, 'tools', 'two.sh'));
    assert.deepEqual((await event).removed, ['tools/two.sh']);
  });

  it('reflects a new group and a changed metadata.json', async () => {
    const event = nextEvent(bus, 1500);
    await mkdir(join(root, 'more'));
    await writeFile(join(root, 'more', 'x.js'), '');
    await writeFile(join(root, 'more', 'metadata.json'), '{"name": "More"}');
    assert.deepEqual((await event).added, ['more/x.js']);
    const levelChange = nextEvent(bus, 1000);
    await writeFile(join(root, 'tools', 'metadata.json'), JSON.stringify({ name: 'Tools', required_level: 'admin' }));
    assert.deepEqual((await levelChange).changed, ['tools/one.py']);
  });

  it('ignores editor and cache files', () => {
    assert.equal(isIgnoredPath('/sg', '/sg/g/__pycache__/x.pyc'), true);
    assert.equal(isIgnoredPath('/sg', '/sg/g/.git/HEAD'), true);
    assert.equal(isIgnoredPath('/sg', '/sg/g/x.py.swp'), true);
    assert.equal(isIgnoredPath('/sg', '/sg/g/x.py'), false);
  });
});
