/**
 * The node serves the built web app at `/` without a token (correct types, the page and
 * service worker revalidated, hashed assets immutable, only files the build wrote), and
 * the development token route exists only when dev sign-in is on.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api } from '../helpers/http.js';
import { startTestNode, type TestNode } from '../helpers/node.js';
import { tempDir } from '../helpers/temp-dir.js';
import { buildWebApp } from '../helpers/web-app.js';

let web: Awaited<ReturnType<typeof buildWebApp>>;
let withApp: TestNode;
let plain: TestNode;
const empty = tempDir('parley-no-web-');

beforeAll(async () => {
  web = await buildWebApp();
  withApp = await startTestNode({ webDir: web.path, devLogin: true });
  plain = await startTestNode({ webDir: empty.path });
}, 60_000);

afterAll(async () => {
  await withApp?.destroy();
  await plain?.destroy();
  web?.remove();
  empty.remove();
});

describe('the web app routes', () => {
  it('the build reports the shell size gzipped, within its budget', () => {
    const m = /shell ([\d.]+) KB gzipped/.exec(web.output);
    expect(m, web.output).not.toBeNull();
    expect(Number(m![1])).toBeLessThanOrEqual(60);
  });

  it('serves the page, its hashed assets and the service worker without a token', async () => {
    const page = await fetch(withApp.url + '/');
    const html = await page.text();
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('cache-control')).toBe('no-cache');
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    const assets = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    expect(assets.map((a) => a.split('.').pop()).sort()).toEqual(['css', 'js']);
    for (const asset of assets) {
      const res = await fetch(withApp.url + asset);
      expect(res.status, asset).toBe(200);
      expect(res.headers.get('cache-control'), asset).toBe('public, max-age=31536000, immutable');
      expect(res.headers.get('content-type'), asset).toMatch(asset.endsWith('.js') ? /^text\/javascript/ : /^text\/css/);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    }
    const worker = await fetch(withApp.url + '/sw.js');
    expect([worker.status, worker.headers.get('content-type'), worker.headers.get('cache-control')]).toEqual([200, 'text/javascript; charset=utf-8', 'no-cache']);
  });

  it('answers anything else under /assets/ with the coded 404, never a file outside the build', async () => {
    for (const path of ['/assets/nope.js', '/assets/..%2Fsw.js', '/assets/..%2F..%2Fpackage.json', '/assets/%2e%2e%2findex.html']) {
      const reply = await api(withApp.url).get(path);
      expect(reply, path).toMatchObject({ status: 404, body: { code: 'not_found' } });
    }
  });

  it('says the app is not built when it is not, and still wants a token for the API', async () => {
    expect(await api(plain.url).get('/')).toMatchObject({ status: 404, body: { code: 'not_found', message: expect.stringMatching(/npm run build/) } });
    expect(await api(plain.url).get('/v1/conversations')).toMatchObject({ status: 401 });
  });

  it('mints a working token by name only where dev sign-in is on', async () => {
    expect(await api(plain.url).post('/v1/dev/token', { userId: 'zoe' })).toMatchObject({ status: 404, body: { code: 'not_found' } });
    const reply = await api(withApp.url).post('/v1/dev/token', { userId: 'zoe' });
    expect(reply).toMatchObject({ status: 200, body: { userId: 'zoe', token: expect.any(String) } });
    expect(await api(withApp.url, reply.body.token).get('/v1/conversations')).toMatchObject({ status: 200, body: { conversations: [] } });
    for (const body of [{}, { userId: '' }, { userId: 'a\u0000b' }, { userId: 'x'.repeat(201) }, { userId: 'zoe', role: 'admin' }, { userId: 5 }]) {
      expect(await api(withApp.url).post('/v1/dev/token', body), JSON.stringify(body)).toMatchObject({ status: 400, body: { code: 'invalid_request' } });
    }
  });
});
