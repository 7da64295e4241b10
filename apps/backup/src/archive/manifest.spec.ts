import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compareVersions, compatibilityProblems, type Manifest } from './manifest.js';

const manifest = (over: Partial<Manifest> = {}): Manifest => ({
  format: 'scriptorium-backup',
  formatVersion: 1,
  id: 'b1',
  createdAt: '2026-12-01T02:00:00.000Z',
  productVersion: '1.2.0',
  encryption: { cipher: 'aes-256-gcm', kdf: 'scrypt', salt: 'c2FsdA==', keyCheck: '' },
  services: {
    auth: { schema: 'auth', migrations: ['A1', 'A2'], part: 'services/auth.jsonl.gz.enc', excludedTables: [] },
    catalog: { schema: 'catalog', migrations: ['C1'], part: 'services/catalog.jsonl.gz.enc', excludedTables: [] },
  },
  parts: [],
  ...over,
});
const here = { productVersion: '1.2.0', services: { auth: ['A1', 'A2'], catalog: ['C1'] } };

describe('whether an installation can restore an archive', () => {
  test('the same schema versions: yes', () => assert.deepEqual(compatibilityProblems(manifest(), here), []));

  test('an archive of an older product with the same schemas: yes', () => assert.deepEqual(compatibilityProblems(manifest({ productVersion: '1.1.9' }), here), []));

  test('a newer product, a newer format, a newer or older schema: refused, saying what to do', () => {
    assert.match(compatibilityProblems(manifest({ productVersion: '1.10.0' }), here)[0], /made by Scriptorium 1\.10\.0, newer than this installation's 1\.2\.0: upgrade/);
    assert.match(compatibilityProblems(manifest({ formatVersion: 2 }), here)[0], /format version 2.*upgrade Scriptorium first/);
    const newer = manifest();
    newer.services.auth.migrations.push('A3');
    assert.deepEqual(compatibilityProblems(newer, here), ['the auth data is at schema version A3, which this installation does not know (newer): upgrade Scriptorium first']);
    const older = compatibilityProblems(manifest(), { ...here, services: { ...here.services, catalog: ['C1', 'C2'] } });
    assert.deepEqual(older, ['the catalog data is at schema version C1, older than this installation\'s C2: restore it with Scriptorium 1.2.0, then upgrade']);
  });

  test('a service missing from the archive, or not an archive at all: refused', () => {
    assert.deepEqual(compatibilityProblems(manifest(), { ...here, services: { ...here.services, logging: ['L1'] } }), ['the archive has no data of the logging service']);
    assert.match(compatibilityProblems(manifest({ format: 'zip' }), here)[0], /not a Scriptorium backup/);
  });

  test('versions compare by number, not as text', () => {
    assert.ok(compareVersions('0.10.0', '0.9.1') > 0);
    assert.equal(compareVersions('1.2.0', '1.2.0-rc.1'), 0);
    assert.ok(compareVersions('1.2', '1.2.1') < 0);
  });
});
