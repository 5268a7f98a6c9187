/**
 * Hostile input on the HTTP path and at the command handler: idempotency keys that users
 * could share or probe, search queries that reached FTS5's syntax, lone surrogates that
 * came back different from history than live, prototype names as keys and ids, bodies
 * made to break the parser, and the headers every answer carries.
 *
 * Randomized parts print their seed; PARLEY_FUZZ_SEED replays one.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isErrorCode } from '../../protocol/index.js';
import { eventually } from '../helpers/eventually.js';
import { api } from '../helpers/http.js';
import { startTestNode, tokenFor, type TestNode } from '../helpers/node.js';
import { tempDir } from '../helpers/temp-dir.js';
import { connectWs, type TestSocket } from '../helpers/ws-client.js';
import { mulberry32 as random } from '../helpers/seeded-random.js';

const PROTOTYPE_NAMES = ['__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty'];

let node: TestNode;
const sockets: TestSocket[] = [];

beforeAll(async () => {
  node = await startTestNode({
    rateLimitPerConnection: { perSecond: 0, burst: 0 },
    rateLimitPerUser: { perSecond: 0, burst: 0 },
  });
});
afterAll(async () => {
  for (const s of sockets) s.close();
  await node.destroy();
});

async function ws(user: string): Promise<TestSocket> {
  const s = await connectWs(node.url, tokenFor(user));
  sockets.push(s);
  await s.next((f) => f.type === 'ready');
  return s;
}

async function conversation(owner: string, members: string[]): Promise<string> {
  const r = await api(node.url, tokenFor(owner)).post('/v1/conversations', { title: 't', members });
  expect(r.status).toBe(201);
  return r.body.id;
}


describe('idempotency keys are per actor, and a repeat needs the authority of a first attempt', () => {
  it('over HTTP: users u and u:1 do not share keys, and a non-member cannot confirm a guessed text', async () => {
    const u = api(node.url, tokenFor('u'));
    const u1 = api(node.url, tokenFor('u:1'));
    const mine = await conversation('u', []);
    const theirs = await conversation('u:1', []);

    const first = await u.post(`/v1/conversations/${mine}/messages`, { clientMessageId: '1:hello', text: 'hi' });
    expect(first.status).toBe(201);
    // Under `${actor}:${commandId}` both were the key "u:1:hello": 422 before the fix.
    const second = await u1.post(`/v1/conversations/${theirs}/messages`, { clientMessageId: 'hello', text: 'hi' });
    expect(second.status).toBe(201);
    expect(second.body.messageId).not.toBe(first.body.messageId);

    const secret = await u1.post(`/v1/conversations/${theirs}/messages`, { clientMessageId: 'm2', text: 'the secret' });
    expect(secret.status).toBe(201);
    const before = await node.store.streamVersion(`conversation-${theirs}`);
    // Replaying u:1's post as u, with the id that collided and the guessed text: refused like any first attempt.
    const probe = await u.post(`/v1/conversations/${theirs}/messages`, { clientMessageId: '1:m2', text: 'the secret' });
    expect(probe).toMatchObject({ status: 403, body: { code: 'forbidden' } });
    const wrongGuess = await u.post(`/v1/conversations/${theirs}/messages`, { clientMessageId: '1:m2', text: 'not it' });
    expect(wrongGuess).toMatchObject({ status: 403, body: { code: 'forbidden' } });
    expect(await node.store.streamVersion(`conversation-${theirs}`)).toBe(before);

    // The owner's own retry is still a duplicate.
    const retry = await u1.post(`/v1/conversations/${theirs}/messages`, { clientMessageId: 'm2', text: 'the secret' });
    expect(retry).toMatchObject({ status: 200, body: { messageId: secret.body.messageId, seq: secret.body.seq } });
  });

  it('over WebSocket: the same two scenarios', async () => {
    const u = await ws('w');
    const u1 = await ws('w:1');
    const mine = await conversation('w', []);
    const theirs = await conversation('w:1', []);
    const post = (s: TestSocket, id: string, conversationId: string, text: string) =>
      s.command(id, { type: 'PostMessage', conversationId, text });

    const first = await post(u, '1:hello', mine, 'hi');
    expect(first).toMatchObject({ type: 'ack', duplicate: false });
    expect(await post(u1, 'hello', theirs, 'hi')).toMatchObject({ type: 'ack', duplicate: false });

    const secret = await post(u1, 'm2', theirs, 'the secret');
    expect(secret).toMatchObject({ type: 'ack', duplicate: false });
    expect(await post(u, '1:m2', theirs, 'the secret')).toMatchObject({ type: 'error', code: 'forbidden' });
    expect(await post(u1, 'm2', theirs, 'the secret')).toMatchObject({
      type: 'ack',
      duplicate: true,
      result: (secret as { result: unknown }).result,
    });
  });

  it('answers a removed member’s retry with forbidden, but a repeated leave with its result', async () => {
    const alice = api(node.url, tokenFor('alice'));
    const bob = api(node.url, tokenFor('bob'));
    const c = await conversation('alice', ['bob']);
    const posted = await bob.post(`/v1/conversations/${c}/messages`, { clientMessageId: 'b1', text: 'before removal' });
    expect(posted.status).toBe(201);
    expect((await alice.delete(`/v1/conversations/${c}/members/bob`)).status).toBe(200);
    expect(await bob.post(`/v1/conversations/${c}/messages`, { clientMessageId: 'b1', text: 'before removal' })).toMatchObject({
      status: 403,
      body: { code: 'forbidden' },
    });

    const d = await conversation('alice', ['bob']);
    const left = await bob.delete(`/v1/conversations/${d}/members/bob`, { 'idempotency-key': 'leave-1' });
    expect(left.status).toBe(200);
    expect(await bob.delete(`/v1/conversations/${d}/members/bob`, { 'idempotency-key': 'leave-1' })).toMatchObject({
      status: 200,
      body: left.body,
    });
  });

  it('answers a retry of a command applied before its message was deleted with its original result', async () => {
    // A retry that the state would now refuse (message_deleted) still gets its first run's
    // result (without this node's memory of it too: test/int/command-repeats.int.test.ts).
    const alice = api(node.url, tokenFor('alice'));
    const c = await conversation('alice', []);
    const posted = await alice.post(`/v1/conversations/${c}/messages`, { clientMessageId: 'p1', text: 'soon gone' });
    const reactions = `/v1/conversations/${c}/messages/${posted.body.messageId}/reactions`;
    const reacted = await alice.post(reactions, { emoji: '👍', commandId: 'r1' });
    expect(reacted.status).toBe(200);
    expect((await alice.delete(`/v1/conversations/${c}/messages/${posted.body.messageId}`)).status).toBe(200);
    const version = await node.store.streamVersion(`conversation-${c}`);

    expect(await alice.post(reactions, { emoji: '👍', commandId: 'r1' })).toMatchObject({ status: 200, body: reacted.body });
    expect(await alice.post(reactions, { emoji: '🎉', commandId: 'r1' })).toMatchObject({ body: { code: 'idempotency_mismatch' } });
    expect(await alice.post(reactions, { emoji: '👍', commandId: 'r2' })).toMatchObject({ body: { code: 'message_deleted' } });
    // A retry the state still allows is a duplicate too, not a second message.
    expect(await alice.post(`/v1/conversations/${c}/messages`, { clientMessageId: 'p1', text: 'soon gone' })).toMatchObject({
      status: 200,
      body: posted.body,
    });
    expect(await node.store.streamVersion(`conversation-${c}`)).toBe(version);
  });

  it('still answers retries of commands keyed before keys were length-prefixed', async () => {
    const dir = tempDir();
    let old: TestNode | undefined = await startTestNode({ dataDir: dir.path });
    try {
      const c = (await api(old.url, tokenFor('carol')).post('/v1/conversations', { title: 'old', members: [] })).body.id;
      const path = `/v1/conversations/${c}/messages`;
      const original = await api(old.url, tokenFor('carol')).post(path, { clientMessageId: 'legacy-1', text: 'from before' });
      const colon = await api(old.url, tokenFor('carol')).post(path, { clientMessageId: 'x:legacy-2', text: 'ambiguous' });
      expect([original.status, colon.status]).toEqual([201, 201]);
      await old.close();
      old = undefined;
      // Rewrite the keys as the node before the fix wrote them: `${actor}:${commandId}`.
      const db = new Database(join(dir.path, 'events.sqlite'));
      db.prepare("UPDATE idempotency SET key = substr(key, 3) WHERE key IN ('5:carol:legacy-1', '5:carol:x:legacy-2')").run();
      expect(db.prepare("SELECT count(*) FROM idempotency WHERE key IN ('carol:legacy-1', 'carol:x:legacy-2')").pluck().get()).toBe(2);
      db.close();

      old = await startTestNode({ dataDir: dir.path });
      const carol = api(old.url, tokenFor('carol'));
      const version = await old.store.streamVersion(`conversation-${c}`);
      expect(await carol.post(path, { clientMessageId: 'legacy-1', text: 'from before' })).toMatchObject({ status: 200, body: original.body });
      // An old key is trusted only when it can have but one author: `carol:x:legacy-2` could
      // as well be user `carol:x`'s, so it is not consulted and the retry is a new command
      // (the documented price of never answering one user with another's result).
      expect(await carol.post(path, { clientMessageId: 'x:legacy-2', text: 'ambiguous' })).toMatchObject({ status: 201 });
      expect(await old.store.streamVersion(`conversation-${c}`)).toBe(version + 1);
    } finally {
      await old?.close();
      dir.remove();
    }
  });
});

describe('search', () => {
  it('answers NUL and control characters without a 5xx', async () => {
    const alice = api(node.url, tokenFor('alice'));
    const c = await conversation('alice', []);
    await alice.post(`/v1/conversations/${c}/messages`, { clientMessageId: 's1', text: 'needle in a haystack' });
    for (const q of ['%00', 'a%00b', 'needle%00', '%00needle', '%01%1f%7f%C2%85', '%22%00%22', 'needle%E2%80%A8']) {
      const r = await alice.get(`/v1/search?q=${q}`);
      expect(r.status, q).toBe(200);
      expect(Array.isArray(r.body.hits), q).toBe(true);
    }
    await eventually(async () => {
      const r = await alice.get('/v1/search?q=need%00');
      expect(r.body.hits.map((h: { conversationId: string }) => h.conversationId)).toContain(c);
    });
  });

  it('never answers 5xx, whatever the query (seeded fuzz)', async () => {
    const seed = Number(process.env.PARLEY_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 32));
    console.log(`search fuzz seed ${seed} (PARLEY_FUZZ_SEED=${seed} replays it)`);
    const next = random(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
    const atoms = ['"', '""', '*', '^', '-', '+', ':', '(', ')', '{', '}', 'NEAR', 'NEAR(a b, 2)', 'AND', 'OR', 'NOT', 'text:', 'col:x',
      '\u0000', '\u0001', '\u001f', '\u007f', '\u0085', '\u2028', '\ufeff', '\ud800', '\udfff', '\ud83d', '🏳️‍🌈', 'é', 'ß', 'İ', '中文',
      ' ', '\t', '\n', '%', '\\', "'", 'needle', 'a', '0', '\u202e'];
    const alice = api(node.url, tokenFor('alice'));
    for (let i = 0; i < 300; i++) {
      let q = '';
      const n = 1 + Math.floor(next() * 12);
      for (let j = 0; j < n; j++) q += pick(atoms);
      // Percent-encode the UTF-8 bytes (a lone surrogate becomes EF BF BD, as any client would
      // send it); every tenth query also gets raw bytes that are not UTF-8 at all.
      let encoded = [...Buffer.from(q, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
      if (i % 10 === 0) encoded += `%${Math.floor(next() * 256).toString(16).padStart(2, '0')}%ff`;
      const r = await alice.get(`/v1/search?q=${encoded}&limit=5`);
      const context = `seed ${seed} query #${i} ${JSON.stringify(q)}`;
      expect(r.status, context).toBeLessThan(500);
      if (r.status >= 400) expect(isErrorCode(r.body.code), context).toBe(true);
    }
  });
});

describe('lone surrogates', () => {
  it('are stored and served in one form: live events and history agree', async () => {
    const s = await ws('dana');
    const c = await conversation('dana', []);
    s.send({ type: 'subscribe', conversations: [{ conversationId: c, afterSeq: 0 }] });
    await s.next((f) => f.type === 'caught-up');
    const texts = ['a\ud800b', 'tail \ud83d', '\udc00 head', 'pair 😀 ok'];
    for (const [i, text] of texts.entries()) {
      // JSON.stringify escapes a lone surrogate as \udXXX, so the frame carries it as is.
      expect(await s.command(`ls-${i}`, { type: 'PostMessage', conversationId: c, text })).toMatchObject({ type: 'ack' });
    }
    const viaHttp = await api(node.url, tokenFor('dana')).post(`/v1/conversations/${c}/messages`, { clientMessageId: 'ls-http', text: 'x\udbffy' });
    expect(viaHttp.status).toBe(201);
    const expected = ['a\ufffdb', 'tail \ufffd', '\ufffd head', 'pair 😀 ok', 'x\ufffdy'];
    const live = async () =>
      s.frames
        .filter((f) => f.type === 'event' && (f as { event: { type: string } }).event.type === 'MessagePosted')
        .map((f) => (f as { event: { data: { text: string } } }).event.data.text);
    await eventually(async () => expect(await live()).toEqual(expected));
    const history = await api(node.url, tokenFor('dana')).get(`/v1/conversations/${c}/messages`);
    expect(history.body.messages.map((m: { text: string }) => m.text)).toEqual(expected);
  });

  it('are replaced in titles and emoji, and refuse ids', async () => {
    const s = await ws('erin');
    const created = await s.command('t1', { type: 'CreateConversation', title: 'ti\ud800tle', members: [] });
    expect(created).toMatchObject({ type: 'ack' });
    const c = (created as { result: { conversationId: string } }).result.conversationId;
    const posted = await s.command('p1', { type: 'PostMessage', conversationId: c, text: 'hi' });
    const messageId = (posted as { result: { messageId: string } }).result.messageId;
    expect(await s.command('r1', { type: 'AddReaction', conversationId: c, messageId, emoji: '\ud83d' })).toMatchObject({ type: 'ack' });
    const erin = api(node.url, tokenFor('erin'));
    await eventually(async () => {
      const list = await erin.get('/v1/conversations');
      expect(list.body.conversations.find((x: { id: string }) => x.id === c)?.title).toBe('ti\ufffdtle');
      const history = await erin.get(`/v1/conversations/${c}/messages`);
      expect(history.body.messages[0].reactions).toEqual({ '\ufffd': ['erin'] });
    });
    // Removing it by either spelling removes the one reaction.
    const version = await node.store.streamVersion(`conversation-${c}`);
    expect(await s.command('r2', { type: 'RemoveReaction', conversationId: c, messageId, emoji: '\udbff' })).toMatchObject({ type: 'ack' });
    for (const [i, command] of [
      { type: 'AddMember', conversationId: c, userId: 'z\ud800' },
      { type: 'DeleteMessage', conversationId: c, messageId: `${messageId}\udc00` },
      { type: 'PostMessage', conversationId: `${c}\ud800`, text: 'x' },
    ].entries()) {
      expect(await s.command(`bad-${i}`, command)).toMatchObject({ type: 'error', code: 'invalid_request' });
    }
    expect(await s.command('bad\ud800id', { type: 'PostMessage', conversationId: c, text: 'x' })).toMatchObject({ code: 'invalid_request' });
    expect(await s.command('bad\nid', { type: 'PostMessage', conversationId: c, text: 'x' })).toMatchObject({ code: 'invalid_request' });
    expect(await node.store.streamVersion(`conversation-${c}`)).toBe(version + 1);
  });
});

describe('prototype names', () => {
  it('as conversation, user and message ids and as JSON keys break nothing', async () => {
    const frank = api(node.url, tokenFor('frank'));
    const c = await conversation('frank', PROTOTYPE_NAMES);
    for (const name of PROTOTYPE_NAMES) {
      const e = encodeURIComponent(name);
      for (const r of [
        await frank.post(`/v1/conversations/${e}/messages`, { clientMessageId: name, text: 'x' }),
        await frank.get(`/v1/conversations/${e}/messages`),
        await frank.get(`/v1/conversations/${e}/presence`),
        await frank.post(`/v1/conversations/${e}/read`, { seq: 0, commandId: name }),
        await frank.delete(`/v1/conversations/${c}/messages/${e}`),
        await frank.post(`/v1/conversations/${c}/messages/${e}/reactions`, { emoji: '👍', commandId: `re-${name}` }),
        await frank.delete(`/v1/conversations/${c}/members/${e}`, { 'idempotency-key': `rm-${name}` }),
        await frank.post(`/v1/conversations/${c}/members`, { userId: name }),
        await frank.post(`/v1/conversations/${c}/messages`, { clientMessageId: name, text: name }),
        await frank.post(`/v1/conversations/${c}/messages`, { clientMessageId: name, text: name }),
      ]) {
        expect(r.status, `${name}: ${JSON.stringify(r.body)}`).toBeLessThan(500);
        if (r.status >= 400) expect(isErrorCode(r.body.code), `${name}: ${JSON.stringify(r.body)}`).toBe(true);
      }
    }
    // A user whose id is a prototype name works like any other.
    const proto = api(node.url, tokenFor('__proto__'));
    const own = await proto.post('/v1/conversations', { title: 'mine', members: ['constructor'] });
    expect(own.status).toBe(201);
    expect((await proto.post(`/v1/conversations/${own.body.id}/messages`, { clientMessageId: 'toString', text: 'hi' })).status).toBe(201);
    expect((await proto.post(`/v1/conversations/${own.body.id}/messages`, { clientMessageId: 'toString', text: 'hi' })).status).toBe(200);
    expect((await api(node.url, tokenFor('constructor')).get(`/v1/conversations/${own.body.id}/messages`)).body.messages).toHaveLength(1);

    const body = (key: string) => `{"title":"t","members":[],"${key}":{"prototype":{"polluted":true}}}`;
    for (const key of ['__proto__', 'constructor', '\\u005f_proto__']) {
      const r = await frank.post('/v1/conversations', body(key));
      expect(r.status, key).toBe(400);
      expect(isErrorCode(r.body.code), key).toBe(true);
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((await api(node.url).get('/health')).status).toBe(200);
  });
});

describe('hostile bodies and URLs on every route', () => {
  it('end in a coded 4xx, never a bare 5xx', async () => {
    const grace = api(node.url, tokenFor('grace'));
    const c = await conversation('grace', []);
    const m = (await grace.post(`/v1/conversations/${c}/messages`, { clientMessageId: 'h1', text: 'x' })).body.messageId;
    const doc = (await grace.get('/docs/json')).body as { paths: Record<string, Record<string, unknown>> };
    const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);
    const bodies = [
      `{"title":${deep(20_000)}}`,
      `{"a":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}`,
      '{"seq":1e400,"title":"t","members":[],"text":"x","clientMessageId":"x","userId":"x","emoji":"x"}',
      '{"seq":123456789012345678901234567890,"commandId":"big"}',
      '{"seq":-0,"commandId":"neg"}',
      '{"title":"t","members":[],"__proto__":{"x":1}}',
      '{"title":"t","members":[],"constructor":{"prototype":{"x":1}}}',
      '{"text":"\\ud800","clientMessageId":"\\udfff"}',
      '{"title":"\u0000","members":["\u0000"]}',
      '[]',
      'null',
      '"string"',
      '12',
      '\ufeff{}',
      '{',
      '',
    ];
    let checked = 0;
    for (const [route, methods] of Object.entries(doc.paths)) {
      const path = route.replace('{id}', c).replace('{messageId}', m).replace('{userId}', 'grace').replace('{emoji}', '%F0%9F%91%8D');
      for (const method of Object.keys(methods).filter((x) => x === 'post')) {
        for (const body of bodies) {
          const r = await grace.raw(method.toUpperCase(), path, body);
          expect(r.status, `${method} ${route} ${body.slice(0, 40)}`).toBeLessThan(500);
          if (r.status >= 400) expect(isErrorCode(r.body.code), `${method} ${route} ${body.slice(0, 40)}: ${JSON.stringify(r.body)}`).toBe(true);
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(bodies.length * 4);
    for (const path of [
      `/v1/conversations/%zz/messages`,
      `/v1/conversations/${'x'.repeat(5000)}/messages`,
      `/v1/conversations/${c}/messages?after=1e400`,
      `/v1/conversations/${c}/messages?limit=99999999999999999999999`,
      `/v1/conversations/${c}/messages?after=1&before=2`,
      `/v1/conversations/${c}/messages?__proto__=1`,
      '/v1/search?q=a&q=b',
      '/v1/search?q=%ff%fe',
      '/v1/search?q=x&conversation=%00',
      `/v1/search?q=${'a '.repeat(240)}`,
    ]) {
      const r = await grace.get(path);
      expect(r.status, path).toBeLessThan(500);
      expect(isErrorCode(r.body.code) || r.status === 200, `${path}: ${JSON.stringify(r.body)}`).toBe(true);
    }
    for (const path of [`/v1/conversations/${c}/messages/%zz`, `/v1/conversations/${c}/messages/${m}/reactions/${'%F0%9F%91%8D'.repeat(100)}`]) {
      const r = await grace.delete(path);
      expect(r.status, path).toBeLessThan(500);
      expect(isErrorCode(r.body.code), `${path}: ${JSON.stringify(r.body)}`).toBe(true);
    }
    for (const [method, path] of [['GET', '/v1/ws'], ['GET', '/v1/sync/x'], ['GET', '/v1/sync/%zz'], ['OPTIONS', '/v1/conversations'], ['PUT', '/v1/conversations'], ['HEAD', '/v1/conversations']] as const) {
      const r = await grace.raw(method, path);
      expect(r.status, `${method} ${path}`).toBeLessThan(500);
      if (method !== 'HEAD' && r.status >= 400) expect(isErrorCode(r.body.code), `${method} ${path}: ${JSON.stringify(r.body)}`).toBe(true);
    }
    for (const headers of <Array<Record<string, string>>>[
      { 'content-type': 'application/json; charset=utf-16' },
      { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      { 'content-type': 'text/plain' },
      { 'content-type': 'application/x-www-form-urlencoded' },
      { 'content-type': 'multipart/form-data; boundary=x' },
      { 'content-type': 'application/json', 'idempotency-key': '\u00ff\u00fe' },
    ]) {
      const r = await grace.raw('POST', `/v1/conversations/${c}/read`, '{"seq":0}', headers);
      expect(r.status, JSON.stringify(headers)).toBeLessThan(500);
      if (r.status >= 400) expect(isErrorCode(r.body.code), `${JSON.stringify(headers)}: ${JSON.stringify(r.body)}`).toBe(true);
    }
    // An Idempotency-Key too long to be an id is refused, not cut to a prefix another key may share.
    const long = await grace.delete(`/v1/conversations/${c}/messages/${m}`, { 'idempotency-key': 'k'.repeat(201) });
    expect(long).toMatchObject({ status: 400, body: { code: 'invalid_request' } });
    expect((await api(node.url).get('/health')).status).toBe(200);
  });

  it('X-Content-Type-Options: nosniff on every answer, errors included', async () => {
    const token = tokenFor('heidi');
    const cases: Array<[string, string, Record<string, string>, string?]> = [
      ['GET', '/health', {}],
      ['GET', '/v1/conversations', { authorization: `Bearer ${token}` }],
      ['GET', '/v1/conversations', {}],
      ['GET', '/v1/nowhere', { authorization: `Bearer ${token}` }],
      ['GET', '/v1/conversations/%zz/messages', { authorization: `Bearer ${token}` }],
      ['POST', '/v1/conversations', { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, '{'],
      ['POST', '/v1/conversations', { authorization: `Bearer ${token}`, 'content-type': 'text/html' }, '<b>'],
      ['GET', '/metrics', { authorization: `Bearer ${token}` }],
      ['GET', '/docs/json', { authorization: `Bearer ${token}` }],
      ['GET', '/v1/admin/feed', { authorization: `Bearer ${token}` }],
      ['GET', '/v1/admin/feed?limit=1', { authorization: `Bearer ${tokenFor('root', { role: 'admin' })}` }],
      ['GET', '/v1/admin/feed?limit=1', { authorization: `Bearer ${tokenFor('root', { role: 'admin' })}`, accept: 'text/event-stream' }],
    ];
    for (const [method, path, headers, body] of cases) {
      const res = await fetch(node.url + path, { method, headers, body });
      await res.arrayBuffer();
      expect(res.headers.get('x-content-type-options'), `${method} ${path} ${res.status}`).toBe('nosniff');
      // The admin feed streams on the raw response, past Fastify's reply headers.
      if (path.includes('limit=1')) expect(res.status).toBe(200);
    }
  });
});
