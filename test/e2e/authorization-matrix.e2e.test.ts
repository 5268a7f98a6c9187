/**
 * Who may do what, over every door of a real node: every HTTP route of the OpenAPI
 * document, every client frame type of `/v1/ws` (every command type for `command`), and
 * every kind of sync document, each for fourteen principals — no token; tokens that are
 * expired, not yet valid, signed with the wrong key, unsigned (`alg: none`), for another
 * audience, from another issuer, with an unknown `kid`, with an oversized or an odd user
 * id; a non-member, a removed member, a member, and an admin (who is not a member) — and
 * all of it twice: with tokens from the node's HS256 secret, and with tokens from an
 * identity provider's JWKS served by the test (test/helpers/identity-provider.ts).
 *
 * The surface is derived, not copied (test/helpers/protocol-surface.ts): the tables
 * below are keyed by route, frame type and document kind, and a check fails when the
 * node has an entry the tables do not (or the other way round), so a new route or frame
 * cannot escape this file.
 *
 * Answer classes:
 *   public        2xx without any token
 *   unauthorized  401 `unauthorized` (WebSocket: close 4401)
 *   denied        403 or 404, with exactly the answer the same request gets for a
 *                 conversation that does not exist (so existence does not leak), and
 *                 nothing appended
 *   ok            2xx (WebSocket: ack / caught-up / pong / ready, no error)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as encoding from 'lib0/encoding';
import WebSocket from 'ws';
import { COMMAND_TYPES, ERRORS, type ServerFrame } from '../../protocol/index.js';
import { docNames } from '../../sync/index.js';
import { eventually } from '../helpers/eventually.js';
import { api, type Reply } from '../helpers/http.js';
import { SignJWT, type JWTPayload } from 'jose';
import { signClaims } from '../../engine/index.js';
import { signLink } from '../../engine/node/attachments/index.js';
import { claimsFor, newSigningKey, signWith, startIdentityProvider, TEST_AUDIENCE, TEST_ISSUER, type SigningKey, type TestIdentityProvider } from '../helpers/identity-provider.js';
import { startTestNode, TEST_METRICS_TOKEN, TEST_SECRET, type TestNode } from '../helpers/node.js';
import { insertUpdate, isStep2 } from '../helpers/hostile-sync.js';
import { connectSignaling } from '../helpers/signaling-client.js';
import {
  acceptedClientFrameTypes,
  acceptedCommandTypes,
  declaredClientFrameTypes,
  declaredCommandTypes,
  fastifyRoutes,
  openApiRoutes,
  type OpenApiRoute,
} from '../helpers/protocol-surface.js';
import { connectWs, type TestSocket } from '../helpers/ws-client.js';

/** Tokens that must be refused whatever they are used for: they act as the member. */
const INVALID = ['expired', 'notYetValid', 'wrongKey', 'algNone', 'wrongAudience', 'wrongIssuer', 'unknownKid', 'oversizedSub', 'oddSub'] as const;
type Invalid = (typeof INVALID)[number];
// The member last: its requests change the fixture (it leaves, deletes its message).
const PRINCIPALS = ['none', ...INVALID, 'nonMember', 'removed', 'admin', 'member'] as const;
type Principal = (typeof PRINCIPALS)[number];
const isInvalid = (who: Principal): who is Invalid => (INVALID as readonly string[]).includes(who);
type Expect = 'public' | 'unauthorized' | 'denied' | 'ok';

/** A conversation with one user in each role, built fresh for each case that mutates. */
interface Fixture {
  n: number;
  conversationId: string;
  users: Record<Exclude<Principal, 'none' | Invalid> | 'owner', string>;
  /** Posted by the owner. */
  ownerMessageId: string;
  /** Posted by the member (who also reacted 👍 to the owner's message). */
  memberMessageId: string;
  /** A word only this conversation's messages contain. */
  secret: string;
  /** An upload by the owner (attachments). */
  attachmentId: string;
}

/** Where the node's tokens come from: its own HS256 secret, or an identity provider's JWKS. */
const MODES = ['HS256', 'JWKS'] as const;
type Mode = (typeof MODES)[number];

/** The node under test and how its tokens are signed; set by each describe's beforeAll (use()). */
let node: TestNode;
let signer: (claims: JWTPayload, kid?: string) => Promise<string>;
const nodes = new Map<Mode, TestNode>();
let idp: TestIdentityProvider;
/** A key the identity provider never published. */
let stranger: SigningKey;
let fixtures = 0;
const MISSING = '00000000-0000-4000-8000-000000000000';
const OTHER_SECRET = 'another-secret-of-at-least-32-characters';

beforeAll(async () => {
  idp = await startIdentityProvider();
  stranger = await newSigningKey(idp.current.alg);
  const common = {
    rateLimitPerConnection: { perSecond: 0, burst: 0 },
    rateLimitPerUser: { perSecond: 0, burst: 0 },
  };
  const claims = { PARLEY_JWT_ISSUER: TEST_ISSUER, PARLEY_JWT_AUDIENCE: TEST_AUDIENCE };
  nodes.set('HS256', await startTestNode({ ...common, env: claims }));
  nodes.set('JWKS', await startTestNode({ ...common, env: { ...claims, PARLEY_JWKS_URL: idp.jwksUrl } }));
});
afterAll(async () => {
  for (const n of nodes.values()) await n.destroy();
  await idp?.close();
});

/** Points the cases at the node of `mode`. */
function use(mode: Mode): void {
  node = nodes.get(mode)!;
  signer =
    mode === 'HS256'
      ? async (claims, kid) => (kid === undefined ? signClaims(TEST_SECRET, claims) : hs256(TEST_SECRET, claims, kid))
      : (claims, kid) => signWith(idp.current, claims, kid);
}

function hs256(secret: string, claims: JWTPayload, kid?: string): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT', ...(kid !== undefined && { kid }) }).sign(new TextEncoder().encode(secret));
}

/** A valid token for `user` on the node under test. */
function tokenFor(user: string, options: { role?: 'admin' } = {}): Promise<string> {
  return signer(claimsFor(user, options.role ? { role: options.role } : {}));
}

/** A token for `user` that the node must refuse, for the reason `kind` names. */
async function invalidToken(kind: Invalid, user: string): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const hs = node === nodes.get('HS256');
  switch (kind) {
    case 'expired':
      return signer(claimsFor(user, { iat: now - 3600, exp: now - 60 }));
    case 'notYetValid':
      return signer(claimsFor(user, { nbf: now + 600 }));
    case 'wrongKey':
      // Another secret; or another key under the kid of the published one.
      return hs ? signClaims(OTHER_SECRET, claimsFor(user)) : signWith(stranger, claimsFor(user), idp.current.kid);
    case 'algNone': {
      const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
      return `${part({ alg: 'none', typ: 'JWT' })}.${part(claimsFor(user))}.`;
    }
    case 'wrongAudience':
      return signer(claimsFor(user, { aud: 'another-app' }));
    case 'wrongIssuer':
      return signer(claimsFor(user, { iss: 'https://id.elsewhere.test' }));
    case 'unknownKid':
      // With one secret the kid is not consulted: a retired secret's token is what an unknown kid means there.
      return hs ? hs256(OTHER_SECRET, claimsFor(user), 'retired-1') : signWith(stranger, claimsFor(user), `unknown-${crypto.randomUUID()}`);
    case 'oversizedSub':
      return signer(claimsFor('u'.repeat(201)));
    case 'oddSub':
      return signer(claimsFor(`${user}\u0007`));
  }
}

async function fixture(): Promise<Fixture> {
  const n = ++fixtures;
  // The outsider's id is the member's up to a ':', so idempotency keys that join actor and
  // command id with ':' collide: the outsider's replay of the member's post must still be denied.
  const users = { owner: `owner-${n}`, member: `m${n}:1`, removed: `removed-${n}`, nonMember: `m${n}`, admin: `root-${n}` };
  const secret = `secret${n}zq`;
  const owner = api(node.url, await tokenFor(users.owner));
  const created = await owner.post('/v1/conversations', { title: `matrix ${n}`, members: [users.member, users.removed] });
  expect(created.status).toBe(201);
  const conversationId = created.body.id as string;
  const post = async (user: string, text: string, clientMessageId: string = crypto.randomUUID()) => {
    const r = await api(node.url, await tokenFor(user)).post(`/v1/conversations/${conversationId}/messages`, { clientMessageId, text });
    expect(r.status).toBe(201);
    return r.body.messageId as string;
  };
  const ownerMessageId = await post(users.owner, `owner says ${secret}`);
  const memberMessageId = await post(users.member, memberPost(n).text, memberPost(n).clientMessageId);
  await post(users.removed, `removed says ${secret}`);
  expect((await api(node.url, await tokenFor(users.member)).post(`/v1/conversations/${conversationId}/messages/${ownerMessageId}/reactions`, { emoji: '👍' })).status).toBe(200);
  // A thread the member and the removed user replied to (both follow it), and a mention of each.
  const reply = async (user: string, text: string) => {
    const r = await api(node.url, await tokenFor(user)).post(`/v1/conversations/${conversationId}/messages`, { clientMessageId: crypto.randomUUID(), text, threadRootId: ownerMessageId });
    expect(r.status).toBe(201);
  };
  await reply(users.member, 'a reply');
  await reply(users.removed, 'another reply');
  await post(users.owner, `@${users.member} @${users.removed} @${users.nonMember} look`);
  expect((await owner.delete(`/v1/conversations/${conversationId}/members/${users.removed}`)).status).toBe(200);
  const upload = await owner.raw('POST', `/v1/conversations/${conversationId}/attachments?name=a.txt`, 'attached', { 'content-type': 'text/plain' });
  expect(upload.status).toBe(201);
  return { n, conversationId, users, ownerMessageId, memberMessageId, secret, attachmentId: upload.body.attachment.id as string };
}

/** The member's post in fixture `n`: the outsider replays it as `1:<clientMessageId>`. */
function memberPost(n: number): { clientMessageId: string; text: string } {
  return { clientMessageId: `cm-${n}`, text: `member says secret${n}zq` };
}

/** A post by `who`: the outsider's is a replay of the member's under a colliding key. */
function postOf(fx: Fixture, who: Principal): { clientMessageId: string; text: string } {
  if (who === 'nonMember') return { clientMessageId: `1:${memberPost(fx.n).clientMessageId}`, text: memberPost(fx.n).text };
  return { clientMessageId: `m-${fx.n}-${who}`, text: 'hello' };
}

async function token(fx: Fixture, who: Principal): Promise<string | undefined> {
  if (isInvalid(who)) return invalidToken(who, fx.users.member);
  switch (who) {
    case 'none':
      return undefined;
    case 'admin':
      return tokenFor(fx.users.admin, { role: 'admin' });
    default:
      return tokenFor(fx.users[who]);
  }
}

/** The user a principal acts as (the member's, for an invalid token). */
function userOf(fx: Fixture, who: Principal): string {
  return who === 'none' ? 'nobody' : isInvalid(who) ? fx.users.member : fx.users[who];
}

// ---------------------------------------------------------------------------------------
// HTTP

interface HttpCase {
  /** The request, for `conversationId` (the fixture's, or one that does not exist). */
  request(fx: Fixture, who: Principal, conversationId: string): { path: string; body?: unknown; headers?: Record<string, string> };
  expect: Record<Principal, Expect>;
  /** For answers that are 2xx for everyone: true when the answer shows the fixture's conversation. */
  shows?(body: any, fx: Fixture): boolean;
}

const everyone = <E>(e: E): Record<Principal, E> => Object.fromEntries(PRINCIPALS.map((p) => [p, e])) as Record<Principal, E>;
/** No token or an invalid one: refused before anything else. */
const refused = Object.fromEntries(['none', ...INVALID].map((p) => [p, 'unauthorized'])) as Record<'none' | Invalid, 'unauthorized'>;
/** Any valid token is enough. */
const authenticated: Record<Principal, Expect> = { ...everyone<Expect>('ok'), ...refused };
/** Members only; the admin role does not open conversations. */
const membersOnly: Record<Principal, Expect> = { ...everyone<Expect>('denied'), ...refused, member: 'ok' };
/** Admin tokens only. */
const adminOnly: Record<Principal, Expect> = { ...everyone<Expect>('denied'), ...refused, admin: 'ok' };
/** Owners and admins of the conversation only (roles: engine/domain/permissions.ts): the member is denied too. */
const moderatorsOnly: Record<Principal, Expect> = { ...everyone<Expect>('denied'), ...refused };

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

// ---------------------------------------------------------------------------------------
// WebSocket frames

interface FrameCase {
  /** The frame, for `conversationId`. */
  frame(fx: Fixture, who: Principal, conversationId: string): Record<string, unknown>;
  expect: Record<Principal, Expect>;
  /** Frames to send first (a subscription before typing). */
  before?(fx: Fixture, conversationId: string): Record<string, unknown>[];
}

const command = (cmd: Record<string, unknown>) => ({ type: 'command', id: `c-${crypto.randomUUID()}`, command: cmd });
/** Commands about a conversation: members only. CreateConversation needs only a token. */
const COMMANDS: Record<string, FrameCase> = {
  CreateConversation: { frame: (_fx, who) => command({ type: 'CreateConversation', title: `ws ${who}`, members: [] }), expect: authenticated },
  AddMember: { frame: (fx, who, c) => command({ type: 'AddMember', conversationId: c, userId: `ws-invitee-${fx.n}-${who}` }), expect: membersOnly },
  RemoveMember: { frame: (fx, _who, c) => command({ type: 'RemoveMember', conversationId: c, userId: fx.users.member }), expect: membersOnly },
  PostMessage: {
    // Over the socket the frame id is the idempotency key.
    frame: (fx, who, c) => ({ ...command({ type: 'PostMessage', conversationId: c, text: postOf(fx, who).text }), id: postOf(fx, who).clientMessageId }),
    expect: membersOnly,
  },
  DeleteMessage: { frame: (fx, _who, c) => command({ type: 'DeleteMessage', conversationId: c, messageId: fx.memberMessageId }), expect: membersOnly },
  AddReaction: { frame: (fx, _who, c) => command({ type: 'AddReaction', conversationId: c, messageId: fx.ownerMessageId, emoji: '🎉' }), expect: membersOnly },
  RemoveReaction: { frame: (fx, _who, c) => command({ type: 'RemoveReaction', conversationId: c, messageId: fx.ownerMessageId, emoji: '👍' }), expect: membersOnly },
  MarkRead: { frame: (_fx, _who, c) => command({ type: 'MarkRead', conversationId: c, seq: 1 }), expect: membersOnly },
  SetRole: { frame: (fx, _who, c) => command({ type: 'SetRole', conversationId: c, userId: fx.users.member, role: 'guest' }), expect: moderatorsOnly },
  MuteMember: { frame: (fx, _who, c) => command({ type: 'MuteMember', conversationId: c, userId: fx.users.member, until: Date.now() + 60_000 }), expect: moderatorsOnly },
  BanMember: { frame: (fx, _who, c) => command({ type: 'BanMember', conversationId: c, userId: fx.users.member }), expect: moderatorsOnly },
  UnbanMember: { frame: (fx, _who, c) => command({ type: 'UnbanMember', conversationId: c, userId: fx.users.removed }), expect: moderatorsOnly },
  ReportMessage: { frame: (fx, _who, c) => command({ type: 'ReportMessage', conversationId: c, messageId: fx.ownerMessageId, reason: 'matrix' }), expect: membersOnly },
  PinMessage: { frame: (fx, _who, c) => command({ type: 'PinMessage', conversationId: c, messageId: fx.ownerMessageId }), expect: moderatorsOnly },
  UnpinMessage: { frame: (fx, _who, c) => command({ type: 'UnpinMessage', conversationId: c, messageId: fx.ownerMessageId }), expect: moderatorsOnly },
  ResolveReport: {
    frame: (fx, _who, c) => command({ type: 'ResolveReport', conversationId: c, messageId: fx.ownerMessageId, outcome: 'resolved' }),
    expect: moderatorsOnly,
  },
  FollowThread: { frame: (fx, _who, c) => command({ type: 'FollowThread', conversationId: c, threadRootId: fx.ownerMessageId }), expect: membersOnly },
  UnfollowThread: { frame: (fx, _who, c) => command({ type: 'UnfollowThread', conversationId: c, threadRootId: fx.ownerMessageId }), expect: membersOnly },
  MarkThreadRead: {
    frame: (fx, _who, c) => command({ type: 'MarkThreadRead', conversationId: c, threadRootId: fx.ownerMessageId, seq: 1 }),
    expect: membersOnly,
  },
  MarkMentionsRead: { frame: (_fx, _who, c) => command({ type: 'MarkMentionsRead', conversationId: c, seq: 1 }), expect: membersOnly },
  SetRetention: { frame: (_fx, _who, c) => command({ type: 'SetRetention', conversationId: c, periodSeconds: 3600 }), expect: moderatorsOnly },
  EraseMessage: { frame: (fx, _who, c) => command({ type: 'EraseMessage', conversationId: c, messageId: fx.memberMessageId }), expect: membersOnly },
};

const FRAMES: Record<string, FrameCase> = {
  auth: { frame: () => ({ type: 'auth' }), expect: authenticated },
  subscribe: { frame: (_fx, _who, c) => ({ type: 'subscribe', conversations: [{ conversationId: c, afterSeq: 0 }] }), expect: membersOnly },
  unsubscribe: { frame: (_fx, _who, c) => ({ type: 'unsubscribe', conversationIds: [c] }), expect: authenticated },
  typing: {
    frame: (_fx, _who, c) => ({ type: 'typing', conversationId: c }),
    before: (_fx, c) => [{ type: 'subscribe', conversations: [{ conversationId: c, afterSeq: 0 }] }],
    expect: membersOnly,
  },
  ping: { frame: () => ({ type: 'ping', id: 'matrix' }), expect: authenticated },
  ...Object.fromEntries(Object.entries(COMMANDS).map(([k, v]) => [`command:${k}`, v])),
};

/** What a socket saw after sending one frame. */
interface FrameOutcome {
  closeCode?: number;
  /** The answer that concerns the frame: an error, ack, caught-up, pong or ready. */
  answer?: ServerFrame;
  frames: ServerFrame[];
}

async function sendFrame(fx: Fixture, who: Principal, key: string, c: FrameCase, conversationId: string): Promise<FrameOutcome> {
  const f = c.frame(fx, who, conversationId);
  const t = await token(fx, who);
  if (key === 'auth') {
    // The auth frame is the first frame of a socket that had no token at the upgrade.
    const s = await connectWs(node.url);
    s.send({ type: 'auth', token: t ?? '' } as never);
    const outcome = await Promise.race([
      s.closed.then((x) => ({ closeCode: x.code, frames: s.frames })),
      s.next((x) => x.type === 'ready').then((answer) => ({ answer, frames: s.frames })),
    ]);
    s.close();
    return outcome;
  }
  let s: TestSocket;
  if (who === 'none') {
    s = await connectWs(node.url);
    s.send(f as never);
    const closed = await s.closed;
    return { closeCode: closed.code, frames: s.frames };
  }
  s = await connectWs(node.url, t);
  const ready = await Promise.race([s.next((x) => x.type === 'ready').then(() => true), s.closed.then(() => false)]);
  if (!ready) return { closeCode: (await s.closed).code, frames: s.frames };
  for (const b of c.before?.(fx, conversationId) ?? []) {
    const from = s.frames.length;
    s.send(b as never);
    await s.next((x) => (x.type === 'caught-up' || x.type === 'error') && (x as { conversationId?: string }).conversationId === conversationId, 5000, from);
  }
  const from = s.frames.length;
  s.send(f as never);
  const id = (f as { id?: string }).id;
  const concerns = (x: ServerFrame): boolean => {
    if (x.type === 'error') return (id !== undefined && x.id === id) || (x as { conversationId?: string }).conversationId === conversationId;
    if (key.startsWith('command:')) return x.type === 'ack' && x.id === id;
    if (key === 'subscribe') return x.type === 'caught-up' && x.conversationId === conversationId;
    if (key === 'ping') return x.type === 'pong' && x.id === id;
    return false;
  };
  let answer: ServerFrame | undefined;
  if (key === 'unsubscribe' || key === 'typing') {
    // No answer when allowed: a ping afterwards shows that any error would have arrived.
    s.send({ type: 'ping', id: 'after' });
    await s.next((x) => x.type === 'pong' && x.id === 'after', 5000, from);
    answer = s.frames.slice(from).find(concerns) ?? { type: 'pong', id: 'after' };
  } else {
    answer = await s.next(concerns, 5000, from);
  }
  s.close();
  return { answer, frames: s.frames.slice(from) };
}

describe.each(MODES)('authorization matrix: WebSocket frames, %s tokens', (mode) => {
  beforeAll(() => use(mode));

  it('has an expectation for every client frame type and command type the protocol declares and the node accepts', () => {
    const declared = declaredClientFrameTypes().sort();
    expect(acceptedClientFrameTypes().sort(), 'frames the node checks vs the ClientFrame schema (protocol/schema)').toEqual(declared);
    expect(acceptedCommandTypes([...COMMAND_TYPES]).sort(), 'commands the node checks vs COMMAND_TYPES').toEqual([...COMMAND_TYPES].sort());
    expect(declaredCommandTypes().sort(), 'the Command schema vs COMMAND_TYPES').toEqual([...COMMAND_TYPES].sort());
    const derived = [...declared.filter((t) => t !== 'command'), ...COMMAND_TYPES.map((t) => `command:${t}`)].sort();
    expect(Object.keys(FRAMES).sort()).toEqual(derived);
  });

  it.each(Object.keys(FRAMES).sort())('%s', async (key) => {
    const c = FRAMES[key]!;
    const fx = await fixture();
    const stream = `conversation-${fx.conversationId}`;
    for (const who of PRINCIPALS) {
      const before = await node.store.streamVersion(stream);
      const outcome = await sendFrame(fx, who, key, c, fx.conversationId);
      const where = `${key} as ${who} (${userOf(fx, who)}): ${JSON.stringify(outcome).slice(0, 400)}`;
      const events = outcome.frames.filter((x) => x.type === 'event' && x.event.conversationId === fx.conversationId);
      switch (c.expect[who]) {
        case 'unauthorized':
          expect(outcome.closeCode, where).toBe(4401);
          expect(outcome.frames.filter((x) => x.type !== 'error'), where).toEqual([]);
          break;
        case 'ok':
          expect(outcome.closeCode, where).toBeUndefined();
          expect(outcome.answer?.type, where).not.toBe('error');
          break;
        case 'denied': {
          expect(outcome.closeCode, where).toBeUndefined();
          expect(outcome.answer?.type, where).toBe('error');
          const code = (outcome.answer as { code: keyof typeof ERRORS }).code;
          expect([403, 404], where).toContain(ERRORS[code].status);
          expect(events, `${where}: delivered events of a conversation it may not read`).toEqual([]);
          expect(await node.store.streamVersion(stream), `${where}: appended`).toBe(before);
          const elsewhere = await sendFrame(fx, who, key, c, MISSING);
          const strip = (x?: ServerFrame) => x && { type: x.type, code: (x as { code?: string }).code, message: (x as { message?: string }).message };
          expect(strip(elsewhere.answer), `${where}: differs from the answer for a conversation that does not exist`).toEqual(strip(outcome.answer));
          break;
        }
        case 'public':
          throw new Error('no public frames');
      }
    }
  });

  it('a member removed while subscribed receives nothing posted after the removal', async () => {
    // The catch-up variant (removed while a large catch-up is still being sent) needs more
    // history than loopback socket buffers hold (tens of MB); the subscription tests own it.
    const fx = await fixture();
    const reader = await connectWs(node.url, await tokenFor(fx.users.member));
    await reader.next((f) => f.type === 'ready');
    reader.send({ type: 'subscribe', conversations: [{ conversationId: fx.conversationId, afterSeq: 0 }] });
    await reader.next((f) => f.type === 'caught-up');
    // The owner watches too: once the owner has the post, fan-out has offered it to every socket.
    const watcher = await connectWs(node.url, await tokenFor(fx.users.owner));
    watcher.send({ type: 'subscribe', conversations: [{ conversationId: fx.conversationId, afterSeq: 0 }] });
    await watcher.next((f) => f.type === 'caught-up');
    const owner = api(node.url, await tokenFor(fx.users.owner));
    expect((await owner.delete(`/v1/conversations/${fx.conversationId}/members/${fx.users.member}`)).status).toBe(200);
    const after = await owner.post(`/v1/conversations/${fx.conversationId}/messages`, { clientMessageId: 'after-removal', text: 'not for the removed' });
    expect(after.status).toBe(201);
    await watcher.next((f) => f.type === 'event' && f.event.seq === after.body.seq);
    if (reader.ws.readyState === WebSocket.OPEN) {
      // Frames on one socket arrive in order: anything sent before the pong is in by then.
      reader.send({ type: 'ping', id: 'fence' });
      await Promise.race([reader.next((f) => f.type === 'pong' && f.id === 'fence', 10_000), reader.closed]);
    }
    watcher.close();
    const leaked = reader.frames.filter((f) => f.type === 'event' && f.event.seq >= after.body.seq);
    expect(leaked, 'events committed after the removal reached the removed member').toEqual([]);
    reader.close();
  });
});

// ---------------------------------------------------------------------------------------
// Sync documents

type SyncExpect = 'unauthorized' | 'denied' | 'read' | 'write';

interface DocCase {
  /** The document, in the fixture's conversation or in `conversationId`. */
  name(fx: Fixture, conversationId: string): string;
  expect: Record<Principal, SyncExpect>;
}

const syncEveryone = (e: SyncExpect): Record<Principal, SyncExpect> => ({ ...everyone(e), ...refused });
const DOCUMENTS: Record<keyof typeof docNames, DocCase> = {
  // The conversation's notes: members read and write.
  notes: { name: (_fx, c) => docNames.notes(c), expect: { ...syncEveryone('denied'), member: 'write' } },
  // A message body by another author (the owner): members read, only the author writes.
  messageBody: {
    name: (fx, c) => docNames.messageBody(c, fx.ownerMessageId),
    expect: { ...syncEveryone('denied'), member: 'read' },
  },
  // Another user's (the owner's) draft: nobody else, members included.
  draft: { name: (fx, c) => docNames.draft(fx.users.owner, c), expect: { ...syncEveryone('denied') } },
};

interface SyncOutcome {
  closeCode?: number;
  closeReason?: string;
  /** HTTP status when the upgrade itself was refused. */
  status?: number;
  frames: Uint8Array[];
  synced: boolean;
}

async function openDoc(name: string, tokenValue: string | undefined, write?: Uint8Array): Promise<SyncOutcome & { denials: string[] }> {
  const ws = new WebSocket(node.url.replace(/^http/, 'ws') + '/v1/sync/' + encodeURIComponent(name), {
    headers: tokenValue ? { authorization: `Bearer ${tokenValue}` } : {},
  });
  const frames: Uint8Array[] = [];
  ws.on('message', (d: Buffer) => frames.push(new Uint8Array(d)));
  const done = new Promise<SyncOutcome>((resolve) => {
    ws.on('unexpected-response', (_req, res) => resolve({ status: res.statusCode, frames, synced: false }));
    ws.on('close', (code, reason) => resolve({ closeCode: code, closeReason: reason.toString(), frames, synced: frames.some(isStep2) }));
    ws.on('error', () => undefined);
  });
  const opened = await Promise.race([new Promise<boolean>((r) => ws.once('open', () => r(true))), done.then(() => false)]);
  if (opened) {
    ws.send(new Uint8Array([0, 0, 1, 0])); // sync step 1, empty state vector
    const synced = await Promise.race([eventually(() => expect(frames.some(isStep2)).toBe(true), 3000).then(() => true, () => false), done.then(() => false)]);
    if (synced && write) {
      const from = frames.length;
      ws.send(write);
      // An allowed write is answered by nothing; a refused one by an auth frame. A second step 1 orders them.
      ws.send(new Uint8Array([0, 0, 1, 0]));
      await eventually(() => expect(frames.slice(from).some(isStep2)).toBe(true), 3000).catch(() => undefined);
    }
    if (ws.readyState === WebSocket.OPEN) ws.close();
  }
  const outcome = await done;
  const denials = outcome.frames.filter((f) => f[0] === 2).map((f) => Buffer.from(f).toString('utf8'));
  return { ...outcome, denials };
}

describe.each(MODES)('authorization matrix: sync documents, %s tokens', (mode) => {
  beforeAll(() => use(mode));

  it('has an expectation for every kind of document', () => {
    expect(Object.keys(DOCUMENTS).sort()).toEqual(Object.keys(docNames).sort());
  });

  it.each(Object.keys(DOCUMENTS).sort())('%s', async (kind) => {
    const c = DOCUMENTS[kind as keyof typeof docNames];
    const fx = await fixture();
    const stream = `conversation-${fx.conversationId}`;
    for (const who of PRINCIPALS) {
      const name = c.name(fx, fx.conversationId);
      const before = await node.store.streamVersion(stream);
      const ownerDraftBefore = (await node.store.readStream(`user-${fx.users.owner}`)).length;
      const outcome = await openDoc(name, await token(fx, who), syncUpdate(`${who} was here`));
      const where = `${kind} ${name} as ${who} (${userOf(fx, who)}): ${JSON.stringify({ ...outcome, frames: outcome.frames.length })}`;
      const stored = async () => (await node.store.streamVersion(stream)) - before + ((await node.store.readStream(`user-${fx.users.owner}`)).length - ownerDraftBefore);
      switch (c.expect[who]) {
        case 'unauthorized':
          expect(outcome.status === 401 || outcome.closeCode === 4401, where).toBe(true);
          expect(outcome.frames, where).toEqual([]);
          break;
        case 'denied': {
          expect(outcome.closeCode, where).toBe(4403);
          expect(outcome.frames, `${where}: received document data`).toEqual([]);
          const missing = await openDoc(c.name(fx, MISSING), await token(fx, who));
          expect({ code: missing.closeCode, reason: missing.closeReason }, `${where}: differs from a document that does not exist`).toEqual({
            code: outcome.closeCode,
            reason: outcome.closeReason,
          });
          break;
        }
        case 'read':
          expect(outcome.synced, where).toBe(true);
          expect(outcome.denials.length, `${where}: a write was not refused`).toBeGreaterThan(0);
          expect(outcome.denials.join(), where).toMatch(/"code":"(not_author|forbidden)"/);
          break;
        case 'write':
          expect(outcome.synced, where).toBe(true);
          expect(outcome.denials, where).toEqual([]);
          await eventually(async () => expect(await stored(), `${where}: the write was not stored`).toBeGreaterThan(0));
          continue;
      }
      expect(await stored(), `${where}: stored a write`).toBe(0);
    }
  });
});

function syncUpdate(text: string): Uint8Array {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, 0); // sync
  encoding.writeVarUint(e, 2); // update
  encoding.writeVarUint8Array(e, insertUpdate(text));
  return encoding.toUint8Array(e);
}

// ---------------------------------------------------------------------------------------
// Signaling (y-webrtc): a document's topic takes those who may write it (the sync matrix's
// `write`), since peers' direct updates never pass the node's check; everyone else with a
// valid token gets a `refused` frame, the same as for a conversation that does not exist.

type SignalingExpect = 'unauthorized' | 'refused' | 'join';
const signalingExpect = (e: SyncExpect): SignalingExpect => (e === 'unauthorized' ? e : e === 'write' ? 'join' : 'refused');

/** The `refused` code for `topic` (null: joined), or 'unauthorized' when the socket was not let in. */
async function joinTopic(topic: string, tokenValue: string | undefined): Promise<string | null> {
  const c = await connectSignaling(node.url, tokenValue).catch(() => null); // a 401 before the upgrade
  if (!c) return 'unauthorized';
  try {
    c.send({ type: 'subscribe', topics: [topic] });
    c.send({ type: 'publish', topic, data: { type: 'announce', from: 'matrix' } });
    const until = await c.settle().catch(() => -1);
    if (until < 0) return (await c.closed).code === 4401 ? 'unauthorized' : `closed ${(await c.closed).code}`;
    const seen = c.frames.slice(0, until);
    const refusal = seen.find((f) => f.type === 'refused' && f.topic === topic);
    const echoed = seen.some((f) => f.type === 'publish' && f.topic === topic);
    if (refusal && echoed) return 'refused but relayed';
    return refusal ? refusal.code! : echoed ? null : 'joined but not relayed';
  } finally {
    c.ws.close();
  }
}

describe.each(MODES)('authorization matrix: signaling topics, %s tokens', (mode) => {
  beforeAll(() => use(mode));

  it.each(Object.keys(DOCUMENTS).sort())('%s', async (kind) => {
    const c = DOCUMENTS[kind as keyof typeof docNames];
    const fx = await fixture();
    for (const who of PRINCIPALS) {
      const got = await joinTopic(c.name(fx, fx.conversationId), await token(fx, who));
      const where = `${kind} as ${who} (${userOf(fx, who)}): ${got}`;
      switch (signalingExpect(c.expect[who])) {
        case 'unauthorized':
          expect(got, where).toBe('unauthorized');
          break;
        case 'join':
          expect(got, where).toBeNull();
          break;
        case 'refused':
          expect(got, where).toMatch(/^(forbidden|not_author|message_deleted|message_not_found)$/);
          // Existence does not leak to those who are not members.
          if (who !== 'member') expect(await joinTopic(c.name(fx, MISSING), await token(fx, who)), where).toBe(got);
          break;
      }
    }
  });
});
