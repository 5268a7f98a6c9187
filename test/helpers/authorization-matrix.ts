/**
 * The authorization matrix, shared by its three files (authorization-http, -frames and
 * -documents.e2e.test.ts): the principals, the fixture, tokens and expectation tables.
 *
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
 * cannot escape the matrix.
 *
 * Answer classes:
 *   public        2xx without any token
 *   unauthorized  401 `unauthorized` (WebSocket: close 4401)
 *   denied        403 or 404, with exactly the answer the same request gets for a
 *                 conversation that does not exist (so existence does not leak), and
 *                 nothing appended
 *   ok            2xx (WebSocket: ack / caught-up / pong / ready, no error)
 */
import { afterAll, beforeAll, expect } from 'vitest';
import { api } from './http.js';
import { SignJWT, type JWTPayload } from 'jose';
import { signClaims } from '../../engine/index.js';
import { claimsFor, newSigningKey, signWith, startIdentityProvider, TEST_AUDIENCE, TEST_ISSUER, type SigningKey, type TestIdentityProvider } from './identity-provider.js';
import { startTestNode, TEST_SECRET, type TestNode } from './node.js';

/** Tokens that must be refused whatever they are used for: they act as the member. */
export const INVALID = ['expired', 'notYetValid', 'wrongKey', 'algNone', 'wrongAudience', 'wrongIssuer', 'unknownKid', 'oversizedSub', 'oddSub'] as const;
export type Invalid = (typeof INVALID)[number];
// The member last: its requests change the fixture (it leaves, deletes its message).
export const PRINCIPALS = ['none', ...INVALID, 'nonMember', 'removed', 'admin', 'member'] as const;
export type Principal = (typeof PRINCIPALS)[number];
export const isInvalid = (who: Principal): who is Invalid => (INVALID as readonly string[]).includes(who);
export type Expect = 'public' | 'unauthorized' | 'denied' | 'ok';

/** A conversation with one user in each role, built fresh for each case that mutates. */
export interface Fixture {
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
export const MODES = ['HS256', 'JWKS'] as const;
export type Mode = (typeof MODES)[number];

/** The node under test and how its tokens are signed; set by each describe's beforeAll (use()). */
export let node: TestNode;
export let signer: (claims: JWTPayload, kid?: string) => Promise<string>;
const nodes = new Map<Mode, TestNode>();
let idp: TestIdentityProvider;
/** A key the identity provider never published. */
let stranger: SigningKey;
let fixtures = 0;
export const MISSING = '00000000-0000-4000-8000-000000000000';
const OTHER_SECRET = 'another-secret-of-at-least-32-characters';

/** Starts the two nodes (HS256 and JWKS) and the identity provider for the calling test file, and stops them after it. */
export function startMatrixNodes(): void {
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
}

/** Points the cases at the node of `mode`. */
export function use(mode: Mode): void {
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
export function tokenFor(user: string, options: { role?: 'admin' } = {}): Promise<string> {
  return signer(claimsFor(user, options.role ? { role: options.role } : {}));
}

/** A token for `user` that the node must refuse, for the reason `kind` names. */
export async function invalidToken(kind: Invalid, user: string): Promise<string> {
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

export async function fixture(): Promise<Fixture> {
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
export function memberPost(n: number): { clientMessageId: string; text: string } {
  return { clientMessageId: `cm-${n}`, text: `member says secret${n}zq` };
}

/** A post by `who`: the outsider's is a replay of the member's under a colliding key. */
export function postOf(fx: Fixture, who: Principal): { clientMessageId: string; text: string } {
  if (who === 'nonMember') return { clientMessageId: `1:${memberPost(fx.n).clientMessageId}`, text: memberPost(fx.n).text };
  return { clientMessageId: `m-${fx.n}-${who}`, text: 'hello' };
}

export async function token(fx: Fixture, who: Principal): Promise<string | undefined> {
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
export function userOf(fx: Fixture, who: Principal): string {
  return who === 'none' ? 'nobody' : isInvalid(who) ? fx.users.member : fx.users[who];
}

export const everyone = <E>(e: E): Record<Principal, E> => Object.fromEntries(PRINCIPALS.map((p) => [p, e])) as Record<Principal, E>;
/** No token or an invalid one: refused before anything else. */
export const refused = Object.fromEntries(['none', ...INVALID].map((p) => [p, 'unauthorized'])) as Record<'none' | Invalid, 'unauthorized'>;
/** Any valid token is enough. */
export const authenticated: Record<Principal, Expect> = { ...everyone<Expect>('ok'), ...refused };
/** Members only; the admin role does not open conversations. */
export const membersOnly: Record<Principal, Expect> = { ...everyone<Expect>('denied'), ...refused, member: 'ok' };
/** Admin tokens only. */
export const adminOnly: Record<Principal, Expect> = { ...everyone<Expect>('denied'), ...refused, admin: 'ok' };
/** Owners and admins of the conversation only (roles: engine/domain/permissions.ts): the member is denied too. */
export const moderatorsOnly: Record<Principal, Expect> = { ...everyone<Expect>('denied'), ...refused };
