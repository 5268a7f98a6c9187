/**
 * Each group of routes is an encapsulated Fastify plugin (engine/node/routes/). What the
 * root app gives every answer — CORS, the nosniff header, the one error shape — must still
 * reach every route of every plugin; authentication, which each plugin adds for itself
 * (the root's `authenticate` decorator), must reach every route but the public ones; and a
 * hook a plugin adds (the admin check) must reach no route outside it. Walked over every route the node serves,
 * so a plugin added later is covered without touching this file.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fastifyRoutes } from '../helpers/protocol-surface.js';
import { startTestNode, tokenFor, type TestNode } from '../helpers/node.js';

const ORIGIN = 'https://app.example';
/** Routes that authenticate on their own (upgrades) or need no token (readiness, the web app's files). */
const PUBLIC = /^GET (\/health|\/ready|\/v1\/ws|\/v1\/sync\/|\/v1\/signaling$|\/$|\/sw\.js$|\/assets\/|\/v1\/attachments\/)/;
/** Routes whose body is a file, not JSON: `{` is refused for its type (attachment_type_refused), not parsed. */
const RAW_BODY = /^POST \/v1\/conversations\/\{id\}\/attachments$/;

let node: TestNode;
let routes: Array<{ key: string; method: string; url: string }>;
beforeAll(async () => {
  node = await startTestNode({ corsOrigins: [ORIGIN] });
  // `OPTIONS *` is @fastify/cors's preflight route, answered before auth (cors.e2e.test.ts).
  routes = fastifyRoutes(node.app).filter((key) => key !== 'OPTIONS *').map((key) => {
    const [method, path] = key.split(' ') as [string, string];
    return { key, method, url: node.url + path.replace(/\{[^}]+\}/g, 'x') };
  });
});
afterAll(async () => {
  await node.destroy();
});

describe('route plugins', () => {
  it('every route answers a request without a token with the coded 401, CORS and nosniff (public ones excepted from the 401)', async () => {
    expect(routes.length).toBeGreaterThan(15);
    for (const { key, method, url } of routes) {
      const res = await fetch(url, { method, headers: { origin: ORIGIN } });
      const body = await res.text();
      expect(res.headers.get('x-content-type-options'), key).toBe('nosniff');
      expect(res.headers.get('access-control-allow-origin'), key).toBe(ORIGIN);
      if (PUBLIC.test(key)) {
        expect(res.status, key).not.toBe(401);
        continue;
      }
      expect(res.status, key).toBe(401);
      expect(JSON.parse(body), key).toEqual({ code: 'unauthorized', message: expect.any(String) });
    }
  });

  it("the admin check stays within the admin plugins, and the root's error handler reaches every plugin", async () => {
    const ADMIN_ONLY = 'This route needs an admin token';
    const user = { authorization: `Bearer ${tokenFor('una')}`, 'content-type': 'application/json' };
    for (const { key, method, url } of routes) {
      if (PUBLIC.test(key)) continue;
      // A body that is not JSON: every plugin's routes that read one answer with the root's
      // coded 400; the admin ones refuse a non-admin first, in their own hook.
      const res = await fetch(url, { method, headers: user, ...(method !== 'GET' && { body: '{' }) });
      const text = await res.text();
      const body = res.headers.get('content-type')?.startsWith('application/json') ? JSON.parse(text) : { text };
      expect(res.headers.get('x-content-type-options'), key).toBe('nosniff');
      if (key.includes('/v1/admin/')) {
        expect([res.status, body], key).toEqual([403, { code: 'forbidden', message: ADMIN_ONLY }]);
        continue;
      }
      expect(body.message, key).not.toBe(ADMIN_ONLY);
      if (RAW_BODY.test(key)) expect([res.status, body.code], key).toEqual([415, 'attachment_type_refused']);
      else if (method !== 'GET') expect([res.status, body.code], key).toEqual([400, 'invalid_json']);
    }
  });
});
