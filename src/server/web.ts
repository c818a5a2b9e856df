// The dashboard's files (web/, built by `npm run build:web` into dist/web), served at /. Any path
// that is not a file and not the API gets index.html, so the page's own routes survive a reload.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type Router } from 'express';

/**
 * dist/web next to the compiled server (dist/src/server → dist/web), or, from the source tree, the
 * repository's dist/web (web/ itself holds the sources, without the bundle app.js).
 */
export function defaultWebRoot(): string | undefined {
  const here = dirname(fileURLToPath(import.meta.url));
  return [join(here, '../../web'), join(here, '../../dist/web')].find((dir) => existsSync(join(dir, 'app.js')));
}

export function webFiles(webRoot: string): Router {
  const root = resolve(webRoot); // sendFile needs an absolute path; --web-root may be relative
  const router = express.Router();
  router.use(express.static(root, { index: 'index.html', maxAge: '5m' }));
  router.get(/^(?!\/api\/).*/, (_req, res) => res.sendFile(join(root, 'index.html')));
  return router;
}
