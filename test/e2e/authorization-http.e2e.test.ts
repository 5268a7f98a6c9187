/**
 * The authorization matrix over every HTTP route of the OpenAPI document (and the hidden ones).
 * Principals, fixture and expectation classes: test/helpers/authorization-matrix.ts.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { ERRORS } from '../../protocol/index.js';
import { api, type Reply } from '../helpers/http.js';
import { signLink } from '../../engine/node/attachments/index.js';
import { TEST_METRICS_TOKEN } from '../helpers/node.js';
import { fastifyRoutes, openApiRoutes, type OpenApiRoute } from '../helpers/protocol-surface.js';
import { startMatrixNodes, INVALID, PRINCIPALS, type Principal, type Expect, type Fixture, MODES, node, MISSING, use, tokenFor, invalidToken, fixture, postOf, token, userOf, everyone, authenticated, membersOnly, adminOnly, moderatorsOnly } from '../helpers/authorization-matrix.js';

startMatrixNodes();

interface HttpCase {
  /** The request, for `conversationId` (the fixture's, or one that does not exist). */
  request(fx: Fixture, who: Principal, conversationId: string): { path: string; body?: unknown; headers?: Record<string, string> };
  expect: Record<Principal, Expect>;
  /** For answers that are 2xx for everyone: true when the answer shows the fixture's conversation. */
  shows?(body: any, fx: Fixture): boolean;
}

const HTTP: Record<string, HttpCase> = {
  'GET /health': { request: () => ({ path: '/health' }), expect: everyone('public') },
  'GET /ready': { request: () => ({ path: '/ready' }), expect: everyone('public') },
  'POST /v1/conversations': {
    request: (fx, who) => ({ path: '/v1/conversations', body: { title: `by ${who}`, members: [] } }),
    expect: authenticated,
  },
  'GET /v1/conversations': {
    request: () => ({ path: '/v1/conversations' }),
    expect: authenticated,
    shows: (body, fx) => body.conversations.some((c: { id: string }) => c.id === fx.conversationId),
  },
  'POST /v1/conversations/{id}/members': {
    request: (fx, who, c) => ({ path: `/v1/conversations/${c}/members`, body: { userId: `invitee-${fx.n}-${who}` } }),
    expect: membersOnly,
  },
  'DELETE /v1/conversations/{id}/members/{userId}': {
    // The member leaves; everyone else tries to remove the member.
    request: (fx, _who, c) => ({ path: `/v1/conversations/${c}/members/${fx.users.member}` }),
    expect: membersOnly,
  },
  'POST /v1/conversations/{id}/messages': {
    request: (fx, who, c) => ({ path: `/v1/conversations/${c}/messages`, body: postOf(fx, who) }),
    expect: membersOnly,
  },
  'GET /v1/conversations/{id}/messages': {
    request: (_fx, _who, c) => ({ path: `/v1/conversations/${c}/messages` }),
    expect: membersOnly,
  },
  'DELETE /v1/conversations/{id}/messages/{messageId}': {
    request: (fx, _who, c) => ({ path: `/v1/conversations/${c}/messages/${fx.memberMessageId}` }),
    expect: membersOnly,
  },
  'POST /v1/conversations/{id}/messages/{messageId}/reactions': {
    request: (fx, _who, c) => ({ path: `/v1/conversations/${c}/messages/${fx.ownerMessageId}/reactions`, body: { emoji: '🎉' } }),
    expect: membersOnly,
  },
  'DELETE /v1/conversations/{id}/messages/{messageId}/reactions/{emoji}': {
    request: (fx, _who, c) => ({ path: `/v1/conversations/${c}/messages/${fx.ownerMessageId}/reactions/${encodeURIComponent('👍')}` }),
    expect: membersOnly,
  },
  'POST /v1/conversations/{id}/read': {
    request: (_fx, _who, c) => ({ path: `/v1/conversations/${c}/read`, body: { seq: 1 } }),
    expect: membersOnly,
  },
  'GET /v1/conversations/{id}/presence': {
    request: (_fx, _who, c) => ({ path: `/v1/conversations/${c}/presence` }),
    expect: membersOnly,
  },
  'GET /v1/search': {
    request: (fx) => ({ path: `/v1/search?q=${fx.secret}` }),
    expect: authenticated,
    shows: (body, fx) => body.hits.some((h: { conversationId: string }) => h.conversationId === fx.conversationId),
  },
  'PUT /v1/conversations/{id}/members/{userId}/role': {
    request: (fx, _who, c) => ({ path: `/v1/conversations/${c}/members/${fx.users.member}/role`, body: { role: 'guest' } }),
    expect: moderatorsOnly,
  },
  'PUT /v1/conversations/{id}/members/{userId}/mute': {
    request: (fx, _who, c) => ({ path: `/v1/conversations/${c}/members/${fx.users.member}/mute`, body: { until: Date.now() + 60_000 } }),
    expect: moderatorsOnly,
  },
  'PUT /v1/conversations/{id}/bans/{userId}': {
    request: (fx, _who, c) => ({ path: `/v1/conversations/${c}/bans/${fx.users.member}` }),
    expect: moderatorsOnly,
  },
  'DELETE /v1/conversations/{id}/bans/{userId}': {
    request: (fx, _who, c) => ({ path: `/v1/conversations/${c}/bans/${fx.users.removed}` }),
    expect: moderatorsOnly,
  },
  'POST /v1/conversations/{id}/messages/{messageId}/reports': {
    request: (fx, _who, c) => ({ path: `/v1/conversations/${c}/messages/${fx.ownerMessageId}/reports`, body: { reason: 'matrix' } }),
    expect: membersOnly,
  },
  'PUT /v1/conversations/{id}/pins/{messageId}': {
    request: (fx, _who, c) => ({ path: `/v1/conversations/${c}/pins/${fx.ownerMessageId}` }),
    expect: moderatorsOnly,
  },
  'DELETE /v1/conversations/{id}/pins/{messageId}': {
    request: (fx, _who, c) => ({ path: `/v1/conversations/${c}/pins/${fx.ownerMessageId}` }),
    expect: moderatorsOnly,
  },
  'PUT /v1/conversations/{id}/retention': {
    request: (_fx, _who, c) => ({ path: `/v1/conversations/${c}/retention`, body: { periodSeconds: 3600 } }),
    expect: moderatorsOnly,
  },
  // The member is the author of this message: only they may erase it.
  'DELETE /v1/conversations/{id}/messages/{messageId}/content': {
    request: (fx, _who, c) => ({ path: `/v1/conversations/${c}/messages/${fx.memberMessageId}/content` }),
    expect: membersOnly,
  },
  'GET /v1/conversations/{id}/moderation': {
    request: (_fx, _who, c) => ({ path: `/v1/conversations/${c}/moderation` }),
    expect: membersOnly,
  },
  'GET /v1/admin/moderation-queue': { request: () => ({ path: '/v1/admin/moderation-queue' }), expect: adminOnly },
  'PUT /v1/conversations/{id}/reports/{messageId}/resolution': {
    request: (fx, _who, c) => ({ path: `/v1/conversations/${c}/reports/${fx.ownerMessageId}/resolution`, body: { outcome: 'dismissed' } }),
    expect: moderatorsOnly,
  },
  'GET /v1/conversations/{id}/reports': {
    request: (_fx, _who, c) => ({ path: `/v1/conversations/${c}/reports?status=all` }),
    expect: moderatorsOnly,
  },
  'GET /v1/conversations/{id}/threads/{rootId}/messages': {
    request: (fx, _who, c) => ({ path: `/v1/conversations/${c}/threads/${fx.ownerMessageId}/messages?before=1000` }),
    expect: membersOnly,
  },
  'PUT /v1/conversations/{id}/threads/{rootId}/follow': {
    request: (fx, _who, c) => ({ path: `/v1/conversations/${c}/threads/${fx.ownerMessageId}/follow` }),
    expect: membersOnly,
  },
  'DELETE /v1/conversations/{id}/threads/{rootId}/follow': {
    request: (fx, _who, c) => ({ path: `/v1/conversations/${c}/threads/${fx.ownerMessageId}/follow` }),
    expect: membersOnly,
  },
  'POST /v1/conversations/{id}/threads/{rootId}/read': {
    request: (fx, _who, c) => ({ path: `/v1/conversations/${c}/threads/${fx.ownerMessageId}/read`, body: { seq: 1 } }),
    expect: membersOnly,
  },
  'POST /v1/conversations/{id}/mentions/read': {
    request: (_fx, _who, c) => ({ path: `/v1/conversations/${c}/mentions/read`, body: { seq: 1 } }),
    expect: membersOnly,
  },
  // The removed user followed the thread and was mentioned before leaving: neither shows.
  'GET /v1/threads': {
    request: () => ({ path: '/v1/threads' }),
    expect: authenticated,
    shows: (body, fx) => body.threads.some((t: { conversationId: string }) => t.conversationId === fx.conversationId),
  },
  'GET /v1/mentions': {
    request: () => ({ path: '/v1/mentions' }),
    expect: authenticated,
    shows: (body, fx) => body.mentions.some((m: { conversationId: string }) => m.conversationId === fx.conversationId),
  },
  'POST /v1/conversations/{id}/attachments': {
    request: (_fx, who, c) => ({ path: `/v1/conversations/${c}/attachments?name=${who}.txt`, body: `a file from ${who}`, headers: { 'content-type': 'text/plain' } }),
    expect: membersOnly,
  },
  'GET /v1/conversations/{id}/attachments/{attachmentId}/url': {
    request: (fx, _who, c) => ({ path: `/v1/conversations/${c}/attachments/${fx.attachmentId}/url` }),
    expect: membersOnly,
  },
  // The signature is the permission (a member's link, signed by the node): tokens play no part.
  'GET /v1/attachments/{attachmentId}': {
    request: (fx, _who, c) => ({
      path: signLink(node.config.attachments.linkSecret, { conversationId: c, attachmentId: fx.attachmentId, userId: fx.users.member }, Date.now() + 60_000),
    }),
    expect: everyone('public'),
  },
  'GET /v1/admin/feed': { request: () => ({ path: '/v1/admin/feed?limit=1' }), expect: adminOnly },
  'GET /v1/admin/analytics': { request: () => ({ path: '/v1/admin/analytics' }), expect: adminOnly },
  'GET /v1/admin/projections': { request: () => ({ path: '/v1/admin/projections' }), expect: adminOnly },
  'POST /v1/admin/projections/{name}/rebuild': {
    request: () => ({ path: `/v1/admin/projections/${projectionName}/rebuild`, body: {} }),
    expect: adminOnly,
  },
  'POST /v1/admin/projections/{name}/skip': {
    // A position the log never reaches: the skip is recorded and changes nothing.
    request: () => ({ path: `/v1/admin/projections/${projectionName}/skip`, body: { position: 1_000_000_000, reason: 'authorization matrix' } }),
    expect: adminOnly,
  },
  'POST /v1/admin/webhooks': { request: () => ({ path: '/v1/admin/webhooks', body: { url: 'https://hooks.example.com/matrix' } }), expect: adminOnly },
  'GET /v1/admin/webhooks': { request: () => ({ path: '/v1/admin/webhooks' }), expect: adminOnly },
  'PATCH /v1/admin/webhooks/{webhookId}': {
    request: () => ({ path: `/v1/admin/webhooks/${webhook.id}`, body: { url: 'https://hooks.example.com/matrix-2' } }),
    expect: adminOnly,
  },
  'DELETE /v1/admin/webhooks/{webhookId}': { request: () => ({ path: `/v1/admin/webhooks/${webhook.doomedId}` }), expect: adminOnly },
  'GET /v1/admin/webhooks/{webhookId}/dead-letters': { request: () => ({ path: `/v1/admin/webhooks/${webhook.id}/dead-letters` }), expect: adminOnly },
  'POST /v1/admin/webhooks/{webhookId}/dead-letters/{position}/redeliver': {
    request: () => ({ path: `/v1/admin/webhooks/${webhook.id}/dead-letters/${webhook.position}/redeliver`, body: {} }),
    expect: adminOnly,
  },
};

/** A webhook for the admin routes to act on, one to delete, and a conversation event it can be sent again. */
const webhook = { id: '', doomedId: '', position: 0 };

/** Routes the Fastify instance has that the OpenAPI document hides, and where they are covered. */
const HIDDEN: Record<string, Expect | 'ws-matrix' | 'sync-matrix' | 'signaling-matrix' | 'scrape-token'> = {
  'GET /docs/json': 'ok',
  'GET /metrics': 'scrape-token',
  'GET /v1/ws': 'ws-matrix',
  'GET /v1/sync/{docName}': 'sync-matrix',
  'GET /v1/signaling': 'signaling-matrix',
  // The web app's files: public (web-routes.e2e.test.ts).
  'GET /': 'public',
  'GET /sw.js': 'public',
  'GET /assets/{name}': 'public',
};

let projectionName = '';
let documented: OpenApiRoute[] = [];

function isConversationScoped(key: string): boolean {
  return key.includes('{id}');
}

async function call(method: string, url: string, path: string, tokenValue: string | undefined, body?: unknown, headers?: Record<string, string>): Promise<Reply> {
  return api(url, tokenValue).raw(method, path, body, headers);
}

describe.each(MODES)('authorization matrix: HTTP, %s tokens', (mode) => {
  beforeAll(async () => {
    use(mode);
    const doc = await api(node.url, await tokenFor('reader')).get('/docs/json');
    expect(doc.status).toBe(200);
    documented = openApiRoutes(doc.body);
    const p = await api(node.url, await tokenFor('root', { role: 'admin' })).get('/v1/admin/projections');
    projectionName = p.body.projections[0].name;
    const admin = api(node.url, await tokenFor('root', { role: 'admin' }));
    webhook.id = (await admin.post('/v1/admin/webhooks', { url: 'https://hooks.example.com/matrix' })).body.webhookId;
    webhook.doomedId = (await admin.post('/v1/admin/webhooks', { url: 'https://hooks.example.com/doomed' })).body.webhookId;
    const created = await admin.post('/v1/conversations', { title: 'webhook replay', members: [] });
    webhook.position = (await node.store.readStream(`conversation-${created.body.id}`))[0]!.position;
  });

  it('has an expectation for every route of the OpenAPI document, and no stale ones', () => {
    expect(documented.length).toBeGreaterThan(10);
    expect(Object.keys(HTTP).sort()).toEqual(documented.map((r) => r.key));
  });

  it('knows every route the node serves, hidden ones included', () => {
    expect(fastifyRoutes(node.app)).toEqual([...Object.keys(HTTP), ...Object.keys(HIDDEN)].sort());
  });

  it('answers hidden routes only to tokens', async () => {
    const path = '/docs/json';
    expect(await api(node.url).get(path)).toMatchObject({ status: 401, body: { code: 'unauthorized' } });
    for (const kind of INVALID) expect(await api(node.url, await invalidToken(kind, 'x')).get(path), kind).toMatchObject({ status: 401 });
    expect((await api(node.url, await tokenFor('x')).get(path)).status).toBe(200);
  });

  it('answers /metrics only to the scrape token, never to a user, admins included', async () => {
    for (const t of [undefined, await tokenFor('x'), await tokenFor('root', { role: 'admin' }), `${TEST_METRICS_TOKEN}x`]) {
      expect(await api(node.url, t).get('/metrics')).toMatchObject({ status: 401, body: { code: 'unauthorized' } });
    }
    expect((await api(node.url, TEST_METRICS_TOKEN).get('/metrics')).status).toBe(200);
  });

  it.each(Object.keys(HTTP).sort())('%s', async (key) => {
    const c = HTTP[key]!;
    const method = key.slice(0, key.indexOf(' '));
    const fx = await fixture();
    const stream = `conversation-${fx.conversationId}`;
    for (const who of PRINCIPALS) {
      const expected = c.expect[who];
      const req = c.request(fx, who, fx.conversationId);
      const before = await node.store.streamVersion(stream);
      const reply = await call(method, node.url, req.path, await token(fx, who), req.body, req.headers);
      const where = `${key} as ${who} (${userOf(fx, who)}): ${JSON.stringify(reply).slice(0, 300)}`;
      switch (expected) {
        case 'public':
          expect(reply.status, where).toBeGreaterThanOrEqual(200);
          expect(reply.status, where).toBeLessThan(300);
          break;
        case 'unauthorized':
          expect(reply, where).toEqual({ status: 401, body: { code: 'unauthorized', message: expect.any(String) } });
          expect(await node.store.streamVersion(stream), where).toBe(before);
          break;
        case 'ok':
          expect(reply.status, where).toBeGreaterThanOrEqual(200);
          expect(reply.status, where).toBeLessThan(300);
          if (c.shows) expect(c.shows(reply.body, fx), `${where}: shows the conversation iff a member`).toBe(who === 'member');
          break;
        case 'denied': {
          expect([403, 404], where).toContain(reply.status);
          expect(reply.body, where).toEqual({ code: expect.any(String), message: expect.any(String) });
          expect(ERRORS[reply.body.code as keyof typeof ERRORS]?.status, where).toBe(reply.status);
          expect(await node.store.streamVersion(stream), `${where}: appended to the conversation`).toBe(before);
          if (isConversationScoped(key)) {
            const missing = c.request(fx, who, MISSING);
            const elsewhere = await call(method, node.url, missing.path, await token(fx, who), missing.body, missing.headers);
            expect(elsewhere, `${where}: differs from the answer for a conversation that does not exist`).toEqual(reply);
          }
          break;
        }
      }
    }
  });
});
