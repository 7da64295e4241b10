import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import { serveWebUi } from './web-ui.js';

describe('web UI static serving', () => {
  const root = mkdtempSync(join(tmpdir(), 'web-ui-'));
  let server: Server;
  let base = '';
  const get = (path: string, accept = 'text/html') => fetch(`${base}${path}`, { headers: { accept } });

  before(async () => {
    mkdirSync(join(root, 'assets'));
    writeFileSync(join(root, 'index.html'), '<!doctype html><title>app</title>');
    writeFileSync(join(root, 'assets', 'index-OEDPyuJO.js'), 'console.log(1)');
    const app = express();
    assert.equal(serveWebUi(app, root), true);
    app.get('/api/v1/thing', (_req, res) => void res.json({ ok: true }));
    app.use((_req, res) => void res.status(404).json({ message: 'not found' }));
    server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server?.close();
    rmSync(root, { recursive: true, force: true });
  });

  test('hashed assets are immutable for a year; index.html is revalidated on every load', async () => {
    const asset = await get('/assets/index-OEDPyuJO.js', '*/*');
    assert.equal(asset.status, 200);
    assert.equal(asset.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    const index = await get('/');
    assert.equal(index.status, 200);
    assert.equal(index.headers.get('cache-control'), 'no-cache');
    assert.match(await index.text(), /<title>app<\/title>/);
  });

  test('a page path of the app gets index.html; API paths, missing files and non-HTML requests do not', async () => {
    const deep = await get('/history/some/page');
    assert.equal(deep.status, 200);
    assert.equal(deep.headers.get('cache-control'), 'no-cache');
    assert.match(await deep.text(), /<title>app<\/title>/);
    assert.equal((await get('/api/v1/thing', 'application/json')).status, 200);
    assert.equal((await get('/api/v1/missing')).status, 404, 'an unknown API path is a 404, even from a browser');
    assert.equal((await get('/assets/gone-12345678.js', '*/*')).status, 404, 'a missing asset is not answered with the page');
    assert.equal((await get('/history', 'application/json')).status, 404);
  });

  test('without a build there is nothing to serve', () => {
    assert.equal(serveWebUi(express(), join(root, 'nowhere')), false);
  });
});
