/**
 * The protocol's schemas (protocol/schema) are the contract: a real node's OpenAPI
 * document is derived from them, and what it actually sends — HTTP bodies and every
 * WebSocket frame of a session — validates against them. Integers a client sends are
 * bounded (JSON's 1e309 is Infinity, which JSON Schema's `integer` lets through).
 */
import { Ajv, type ValidateFunction } from 'ajv';
import ajvFormats from 'ajv-formats';
import type { TSchema } from '@sinclair/typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Responses, ServerFrame } from '../../protocol/schema/index.js';
import { api } from '../helpers/http.js';
import { startTestNode, tokenFor, type TestNode } from '../helpers/node.js';
import { openApiRoutes } from '../helpers/protocol-surface.js';
import { connectWs } from '../helpers/ws-client.js';

let node: TestNode;
const alice = () => api(node.url, tokenFor('alice'));
const admin = () => api(node.url, tokenFor('root', { role: 'admin' }));
// ajv-formats is CommonJS: its function is the default export's `default`.
const addFormats = (ajvFormats as unknown as { default: (a: Ajv) => Ajv }).default;
const ajv = addFormats(new Ajv({ strict: false, allErrors: true }));
const validators = new Map<TSchema, ValidateFunction>();
function conforms(schema: TSchema, value: unknown): void {
  const validate = validators.get(schema) ?? ajv.compile(schema);
  validators.set(schema, validate);
  expect(validate(value), JSON.stringify(validate.errors)).toBe(true);
}

beforeAll(async () => {
  node = await startTestNode();
});
afterAll(async () => {
  await node.destroy();
});

describe('the contract', () => {
  it('documents a request body schema where a route takes one, and a 2xx body for every route', async () => {
    const doc = (await alice().get('/docs/json')).body;
    const routes = openApiRoutes(doc);
    expect(routes.length).toBeGreaterThan(10);
    for (const r of routes) {
      const responses = (r.operation as { responses?: Record<string, { content?: Record<string, { schema?: unknown }> }> }).responses ?? {};
      const ok = Object.entries(responses).filter(([status]) => status.startsWith('2'));
      // The admin feed streams NDJSON or Server-Sent Events: no JSON body to describe.
      if (r.key === 'GET /v1/admin/feed') continue;
      // An attachment download answers with the file's bytes, under the file's own type.
      if (r.key === 'GET /v1/attachments/{attachmentId}') continue;
      expect(ok.length, `${r.key} documents no 2xx response`).toBeGreaterThan(0);
      for (const [status, response] of ok) expect(response.content?.['application/json']?.schema, `${r.key} ${status}`).toBeDefined();
      if (r.method === 'POST' && !r.path.endsWith('/rebuild')) expect(r.operation.requestBody, `${r.key} has no body schema`).toBeDefined();
    }
  });

  it('answers with bodies that validate against their schemas, and sends only frames the ServerFrame schema allows', async () => {
    const s = await connectWs(node.url, tokenFor('alice'));
    const raw: unknown[] = [];
    s.ws.on('message', (data) => raw.push(JSON.parse(data.toString())));
    const created = await alice().post('/v1/conversations', { title: 'Contract', members: ['bob'] });
    conforms(Responses.created, created.body);
    const id: string = created.body.id;
    s.send({ type: 'subscribe', conversations: [{ conversationId: id, afterSeq: 0 }] });
    await s.next((f) => f.type === 'caught-up');
    const posted = await alice().post(`/v1/conversations/${id}/messages`, { clientMessageId: 'm1', text: 'hello **there**', format: 'markdown' });
    await alice().post(`/v1/conversations/${id}/messages/${posted.body.messageId}/reactions`, { emoji: '__proto__' });
    s.send({ type: 'command', id: 'c1', command: { type: 'MarkRead', conversationId: id, seq: 1 } });
    await s.next((f) => f.type === 'ack' && f.id === 'c1');
    s.send({ type: 'command', id: 'c2', command: { type: 'DeleteMessage', conversationId: id, messageId: 'nope' } });
    await s.next((f) => f.type === 'error' && f.id === 'c2');
    s.send({ type: 'ping', id: 'p' });
    await s.next((f) => f.type === 'pong');

    conforms(Responses.conversations, (await alice().get('/v1/conversations')).body);
    const page = (await alice().get(`/v1/conversations/${id}/messages?after=0`)).body;
    conforms(Responses.messages, page);
    expect(Object.entries(page.messages[0].reactions)).toEqual([['__proto__', ['alice']]]);
    conforms(Responses.presence, (await alice().get(`/v1/conversations/${id}/presence`)).body);
    conforms(Responses.search, (await alice().get('/v1/search?q=hello')).body);
    conforms(Responses.health, (await api(node.url).get('/health')).body);
    conforms(Responses.analytics, (await admin().get('/v1/admin/analytics')).body);
    conforms(Responses.projections, (await admin().get('/v1/admin/projections')).body);

    // `ready` came before the listener was on: the helper kept it.
    raw.push(s.frames.find((f) => f.type === 'ready'));
    expect(raw.map((f) => (f as { type: string }).type)).toEqual(expect.arrayContaining(['ready', 'events', 'event', 'caught-up', 'ack', 'error', 'pong']));
    for (const frame of raw) conforms(ServerFrame, frame);
    s.close();
  });

  it('refuses integers past 2^53, Infinity (1e309) included, on every door', async () => {
    const { body: c } = await alice().post('/v1/conversations', { title: 'Big', members: [] });
    const raw = (path: string, body: string, token = tokenFor('alice')) =>
      fetch(`${node.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body });
    expect((await raw(`/v1/conversations/${c.id}/read`, '{"seq":1e309}')).status).toBe(400);
    expect((await raw(`/v1/conversations/${c.id}/read`, '{"seq":9007199254740993}')).status).toBe(400);
    expect((await raw('/v1/admin/projections/history/skip', '{"position":1e309}', tokenFor('root', { role: 'admin' }))).status).toBe(400);
    expect((await alice().get(`/v1/conversations/${c.id}/messages?after=1e309`)).status).toBe(400);
    const s = await connectWs(node.url, tokenFor('alice'));
    s.ws.send(`{"type":"command","id":"big","command":{"type":"MarkRead","conversationId":"${c.id}","seq":1e309}}`);
    expect(await s.next((f) => f.type === 'error' && f.id === 'big')).toMatchObject({ code: 'invalid_request' });
    s.close();
  });
});
