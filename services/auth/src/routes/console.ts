import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

interface Asset {
  body: string;
  type: string;
}

// Everything the console loads comes from this origin: no inline script or style, no CDN.
const CONSOLE_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/**
 * The admin console's files, read once at start: the page, its script and style, and the
 * front-end library (Preact + htm, ES modules from the service's own dependencies; the
 * hooks module's bare `preact` import is pointed at the served copy, so no import map or
 * bundler is needed).
 */
function loadAssets(): Map<string, Asset> {
  const here = (name: string) => readFileSync(new URL(`../console/${name}`, import.meta.url), 'utf8');
  const require = createRequire(import.meta.url);
  // The ES module build next to each package's CommonJS entry (the `exports` maps do not list it).
  const dependency = (entry: string, file: string) => readFileSync(join(dirname(require.resolve(entry)), file), 'utf8');
  const js = 'text/javascript; charset=utf-8';
  return new Map<string, Asset>([
    ['/admin', { body: here('index.html'), type: 'text/html; charset=utf-8' }],
    ['/admin/app.js', { body: here('app.js'), type: js }],
    ['/admin/app.css', { body: here('app.css'), type: 'text/css; charset=utf-8' }],
    ['/admin/vendor/preact.mjs', { body: dependency('preact', 'preact.module.js'), type: js }],
    ['/admin/vendor/hooks.mjs', { body: dependency('preact/hooks', 'hooks.module.js').replaceAll(/from\s*"preact"/g, 'from"./preact.mjs"'), type: js }],
    ['/admin/vendor/htm.mjs', { body: dependency('htm', 'htm.module.js'), type: js }],
  ]);
}

/**
 * The admin console under `/admin`: a page over the admin HTTP API, signed in with the admin
 * credential (kept in the tab's sessionStorage, sent as a bearer token), so every action
 * goes through the same audited routes and services as the API. Served only when the admin
 * API is enabled (ADMIN_TOKEN set).
 */
export const consoleRoutes = fp(
  async (app: FastifyInstance) => {
    if (app.revocableAuth.config.adminToken === undefined) return;
    const assets = loadAssets();
    for (const [path, asset] of assets) {
      app.get(path, { schema: { hide: true } }, async (_request, reply) =>
        reply
          .type(asset.type)
          .header('content-security-policy', CONSOLE_CSP)
          .header('x-content-type-options', 'nosniff')
          .header('referrer-policy', 'no-referrer')
          .header('cache-control', 'no-store')
          .send(asset.body),
      );
    }
    app.get('/admin/', { schema: { hide: true } }, async (_request, reply) => reply.redirect('/admin', 301));
  },
  { name: 'revocable-auth-console-routes', fastify: '5.x', dependencies: ['revocable-auth-context'] },
);
