import { existsSync } from 'node:fs';
import { join } from 'node:path';
import express, { type NextFunction, type Request, type Response } from 'express';

/** Paths the gateway answers itself; everything else a browser asks for is the web UI. */
const NOT_THE_UI = /^\/(api|healthz|readyz|metrics)(\/|$)/;
/** Vite names every built asset after its content: a new build never reuses a URL. */
const HASHED_ASSET = /\/assets\/[^/]+-[\w-]{8,}\.\w+$/;

/**
 * Serves the built web UI (dist/web, `npm run build`): hashed assets cached for a year as
 * immutable, index.html revalidated on every load (so a deploy is picked up at once), and any
 * other page path answered with index.html, for the single-page application's own routes.
 */
export function serveWebUi(app: { use(...handlers: express.RequestHandler[]): unknown }, root: string): boolean {
  const index = join(root, 'index.html');
  if (!existsSync(index)) return false;
  app.use(
    express.static(root, {
      index: false,
      setHeaders: (res, path) => res.setHeader('cache-control', HASHED_ASSET.test(path.replaceAll('\\', '/')) ? 'public, max-age=31536000, immutable' : 'no-cache'),
    }),
  );
  app.use((req: Request, res: Response, next: NextFunction) => {
    if ((req.method !== 'GET' && req.method !== 'HEAD') || NOT_THE_UI.test(req.path) || /\.\w+$/.test(req.path) || !req.accepts('html')) return next();
    res.setHeader('cache-control', 'no-cache');
    res.sendFile(index);
  });
  return true;
}
