import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ARCHIVE_SUFFIX } from './destination.port.js';
import { DirectoryDestination } from './directory.destination.js';

describe('directory destination', () => {
  test('an archive gone between the listing and its size (retention deleting it) is left out, not an error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'scriptorium-destination-'));
    try {
      writeFileSync(join(dir, `kept${ARCHIVE_SUFFIX}`), 'archive');
      // Listed by readdir, gone for stat: what a delete between the two leaves.
      symlinkSync(join(dir, 'deleted-meanwhile'), join(dir, `gone${ARCHIVE_SUFFIX}`));
      assert.deepEqual(await new DirectoryDestination(dir).list(), [{ name: `kept${ARCHIVE_SUFFIX}`, size: 7 }]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
