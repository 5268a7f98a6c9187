/**
 * The web app (web/, built by `npm run build` into dist/web-app/) served at `/`: no token
 * for its files, since signing in is what the page is for. Only the files the build wrote
 * are served, read once at registration into a Map keyed by name, so no request path ever
 * reaches the file system. Hashed assets are immutable; the page and the service worker
 * are revalidated on every load so a new build is picked up at once.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { ParleyError } from '../../../protocol/index.js';

export interface WebRoutesDeps {
  /** The built app; default: the first of dist/web-app/ (compiled node) or <repo>/dist/web-app/ (source) that exists. */
  readonly dir?: string;
}

/** Paths the auth hook lets through without a token (http-server.ts). */
export const WEB_PUBLIC_ROUTES = ['/', '/sw.js'];
export const WEB_PUBLIC_PREFIXES = ['/assets/'];

const TYPES = new Map([
  ['.html', 'text/html; charset=utf-8'],
  ['.js', 'text/javascript; charset=utf-8'],
  ['.css', 'text/css; charset=utf-8'],
  ['.map', 'application/json'],
  ['.svg', 'image/svg+xml'],
  ['.png', 'image/png'],
]);

/**
 * The page loads only its own scripts and styles and talks only to this origin: an
 * injected `<script>` or inline handler does not run even if text ever reached the DOM
 * as HTML. No frame-ancestors: embedding the page in an app's iframe is a supported use.
 */
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; worker-src 'self'; base-uri 'none'; form-action 'self'; object-src 'none'";

export function defaultWebDir(): string | undefined {
  const candidates = ['../../../web-app/', '../../../dist/web-app/'].map((p) => fileURLToPath(new URL(p, import.meta.url)));
  return candidates.find((dir) => existsSync(join(dir, 'index.html')));
}

interface Served {
  body: Buffer;
  type: string;
}

function readBuild(dir: string): { page: Served; worker: Served | undefined; assets: Map<string, Served> } | undefined {
  if (!existsSync(join(dir, 'index.html'))) return undefined;
  const read = (file: string): Served => ({ body: readFileSync(file), type: TYPES.get(extname(file)) ?? 'application/octet-stream' });
  const assets = new Map<string, Served>();
  const assetDir = join(dir, 'assets');
  if (existsSync(assetDir)) for (const name of readdirSync(assetDir)) if (TYPES.has(extname(name))) assets.set(name, read(join(assetDir, name)));
  return { page: read(join(dir, 'index.html')), worker: existsSync(join(dir, 'sw.js')) ? read(join(dir, 'sw.js')) : undefined, assets };
}

export const webRoutes: FastifyPluginAsync<WebRoutesDeps> = async (app, { dir = defaultWebDir() }) => {
  const build = dir ? readBuild(dir) : undefined;
  if (!build) app.log.info('the web app is not built (npm run build): / answers not_found');
  const send = (reply: FastifyReply, file: Served, cache: string) =>
    reply.header('content-type', file.type).header('cache-control', cache).send(file.body);

  app.get('/', { schema: { hide: true } as object }, async (_request, reply) => {
    if (!build) throw new ParleyError('not_found', 'The web app is not built: run `npm run build`');
    reply.header('content-security-policy', CSP).header('referrer-policy', 'no-referrer');
    return send(reply, build.page, 'no-cache');
  });
  app.get('/sw.js', { schema: { hide: true } as object }, async (_request, reply) => {
    if (!build?.worker) throw new ParleyError('not_found');
    return send(reply, build.worker, 'no-cache');
  });
  app.get<{ Params: { name: string } }>('/assets/:name', { schema: { hide: true } as object }, async (request, reply) => {
    const file = build?.assets.get(request.params.name);
    if (!file) throw new ParleyError('not_found');
    return send(reply, file, 'public, max-age=31536000, immutable');
  });
};
