/**
 * A seeded fuzzer against a real node in a child process, so that an exit is observed
 * rather than taking the test runner with it. Eight workers throw hostile input at every
 * door — every route of the node's OpenAPI document, every client frame type of `/v1/ws`
 * (read from the protocol, see test/helpers/protocol-surface.ts), y-protocols messages on
 * `/v1/sync/<doc>`, and raw bytes on the TCP port — while two honest clients chat in a
 * conversation, each posting a numbered sentinel sequence.
 *
 * What must hold: the node never exits; no HTTP answer is a 5xx and no WebSocket error
 * carries a 5xx code (`internal`), no sync socket is closed with 1011; every input is
 * answered (within ANSWER_TIMEOUT_MS); each honest client receives the conversation
 * gap-free and without duplicates, and the other's sentinels exactly once and in order;
 * the node's resident memory stays under PARLEY_FUZZ_MAX_RSS_MB.
 *
 *   PARLEY_FUZZ_SEED=<n>     replay a run (the seed is printed at start and in every failure)
 *   PARLEY_FUZZ_INPUTS=<n>   inputs (default 10,000)
 *
 * Each worker draws its inputs from its own generator forked from the seed, so a seed
 * replays the same inputs per worker; how the workers interleave, and ids the node hands
 * out, differ between runs.
 */
import { createConnection } from 'node:net';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { COMMAND_TYPES, ERRORS, isFinalClose, type ServerFrame, type WireEvent } from '../../protocol/index.js';
import { docNames } from '../../sync/index.js';
import { api } from '../helpers/http.js';
import { bigString, hostileString, mutate, toJsonText, valueFromSchema, PROTOTYPE_KEYS, type Schema } from '../helpers/hostile-inputs.js';
import { deniedCode, hostileSyncMessage, isStep2, PROBE_STEP1 } from '../helpers/hostile-sync.js';
import { spawnNode, tokenFor, type SpawnedNode } from '../helpers/node.js';
import { declaredClientFrameTypes, openApiRoutes, type OpenApiRoute } from '../helpers/protocol-surface.js';
import { seededRandom, seedFrom, type Random } from '../helpers/seeded-random.js';
import { tempDir } from '../helpers/temp-dir.js';
import { connectWs, type TestSocket } from '../helpers/ws-client.js';

const SEED = seedFrom('PARLEY_FUZZ_SEED');
const INPUTS = Number(process.env.PARLEY_FUZZ_INPUTS ?? 10_000);
const MAX_RSS_MB = Number(process.env.PARLEY_FUZZ_MAX_RSS_MB ?? 600);
const CONCURRENCY = 8;
const SENTINELS = 50;
/** Messages in the honest conversation before the run. */
const PREFILL = 600;
const ANSWER_TIMEOUT_MS = 30_000;
const MAX_FAILURES = 25;
const REPLAY = `PARLEY_FUZZ_SEED=${SEED} PARLEY_FUZZ_INPUTS=${INPUTS} npx vitest run test/e2e/fuzz.e2e.test.ts`;
const MISSING = '00000000-0000-4000-8000-000000000000';

// ---------------------------------------------------------------------------------------
// The run's state: failures, counts, what is in flight.

const failures: string[] = [];
let aborted = false;
const counts = { http: 0, ws: 0, sync: 0, tcp: 0 };
/** Milliseconds spent per channel (summed over workers), for the summary. */
const channelMs = { http: 0, ws: 0, sync: 0, tcp: 0 };
const httpStatuses = new Map<string, number>();
const wsCloses = new Map<number, number>();
const syncCloses = new Map<number, number>();
const wsErrors = new Map<string, number>();
const inFlight = new Map<number, string>();
const recent: string[] = [];
let completed = 0;
let peakRssMb = 0;
const progressWaiters: Array<{ at: number; resolve: () => void }> = [];

function fail(message: string): void {
  if (failures.length < MAX_FAILURES) failures.push(`[seed ${SEED}] ${message}\n  replay: ${REPLAY}`);
  if (failures.length >= MAX_FAILURES) aborted = true;
}

/** Ends the run early (node gone, memory bound crossed). */
function abort(message: string): void {
  fail(`${message}\n  in flight:\n    ${[...inFlight.values()].join('\n    ')}\n  last completed:\n    ${recent.slice(-25).join('\n    ')}`);
  aborted = true;
  for (const w of progressWaiters.splice(0)) w.resolve();
}

function bump<K>(m: Map<K, number>, k: K): void {
  m.set(k, (m.get(k) ?? 0) + 1);
}

/** A short, escaped preview of an input for failure messages. */
function preview(data: string | Uint8Array | undefined, max = 240): string {
  if (data === undefined) return '';
  if (typeof data !== 'string') return `<${data.length} bytes ${Buffer.from(data.subarray(0, 48)).toString('hex')}${data.length > 48 ? '…' : ''}>`;
  const s = JSON.stringify(data.length > max ? data.slice(0, max) : data);
  return `${s}${data.length > max ? `… (${data.length} chars)` : ''}`;
}

function progressed(): void {
  completed += 1;
  for (let i = progressWaiters.length - 1; i >= 0; i--) {
    if (progressWaiters[i]!.at <= completed) progressWaiters.splice(i, 1)[0]!.resolve();
  }
}

function untilProgress(at: number): Promise<void> {
  if (completed >= at || aborted) return Promise.resolve();
  return new Promise((resolve) => progressWaiters.push({ at, resolve }));
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms: ${what}`)), ms);
    }),
  ]);
}

// ---------------------------------------------------------------------------------------
// The world the fuzzer acts in.

let dir: ReturnType<typeof tempDir>;
let node: SpawnedNode;
let port = 0;
let routes: OpenApiRoute[] = [];
const stderrTail: string[] = [];
const errorLogTail: string[] = [];

const HONEST = ['alice', 'bob'] as const;
/** Fuzzing identities: a member of the honest conversation, an outsider, and user ids that are keys of Object.prototype or look like key separators. */
const MEMBER = 'mallory';
const OUTSIDER = 'trudy';
const HOSTILE_USERS = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'u', 'u:1', '🙂', 'x'.repeat(200)];
const ADMIN = 'root';

const pools = {
  conversations: [] as string[],
  messages: [] as string[],
  projections: [] as string[],
  honestConversation: '',
  fuzzConversation: '',
};

function addMessageId(id: unknown): void {
  if (typeof id !== 'string') return;
  if (pools.messages.length < 200) pools.messages.push(id);
  else pools.messages[Math.floor(Math.random() * 200)] = id;
}

function userPool(): string[] {
  return [...HONEST, MEMBER, OUTSIDER, ADMIN, ...HOSTILE_USERS];
}

/** A token for a fuzzing request: mostly valid ones of fuzzing users, sometimes none, expired or garbage. */
function fuzzToken(rng: Random): string | undefined {
  return rng.weighted<() => string | undefined>([
    [30, () => tokenFor(MEMBER)],
    [12, () => tokenFor(OUTSIDER)],
    [14, () => tokenFor(rng.pick(HOSTILE_USERS))],
    [8, () => tokenFor(ADMIN, { role: 'admin' })],
    [8, () => undefined],
    [4, () => tokenFor(MEMBER, { ttlSeconds: -5 })],
    [4, () => rng.pick(['', 'garbage', 'a.b.c', tokenFor(MEMBER).slice(0, -3) + 'AAA', `${tokenFor(MEMBER)}.x`, 'x'.repeat(5000)])],
  ])();
}

/** A string for a named field: a real id (so inputs get past existence checks) or a hostile one. */
function fieldValue(rng: Random, name: string): string | undefined {
  const real = (): string | undefined => {
    switch (name) {
      case 'id':
      case 'conversationId':
      case 'conversation':
        return rng.pick([...pools.conversations, MISSING]);
      case 'messageId':
        return pools.messages.length > 0 ? rng.pick(pools.messages) : undefined;
      case 'userId':
        return rng.pick(userPool());
      case 'emoji':
        return rng.pick(['👍', '🎉', ...PROTOTYPE_KEYS, '\ud83d', 'x'.repeat(64)]);
      case 'name':
        return pools.projections.length > 0 ? rng.pick(pools.projections) : undefined;
      case 'clientMessageId':
      case 'commandId':
        return rng.chance(0.7) ? `fz-${rng.int(1_000_000)}` : rng.pick(['1:hello', 'u:1', ...PROTOTYPE_KEYS]);
      case 'q':
        return rng.pick(['sentinel', 'hello', '"', '*', 'a\u0000b', '\u0000', 'NEAR(a b)', 'fuzz', '🙂']);
      default:
        return undefined;
    }
  };
  return rng.chance(0.75) ? real() : hostileString(rng, 300);
}

// ---------------------------------------------------------------------------------------
// HTTP: every documented route (and the hidden ones a client can still call).

const HIDDEN_GETS = ['/metrics', '/docs/json', '/v1/ws', '/v1/nowhere'];

/** Percent-encodes like encodeURIComponent, but a lone surrogate becomes its (invalid) UTF-8 bytes instead of throwing. */
function pct(s: string): string {
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (c >= 0xd800 && c <= 0xdfff) out += `%${(0xe0 | (c >> 12)).toString(16)}%${(0x80 | ((c >> 6) & 0x3f)).toString(16)}%${(0x80 | (c & 0x3f)).toString(16)}`.toUpperCase();
    else out += encodeURIComponent(ch);
  }
  return out;
}

function fuzzPath(rng: Random, template: string): string {
  return template.replace(/\{([^}]+)\}/g, (_, name: string) => {
    const v = fieldValue(rng, name) ?? hostileString(rng, 200);
    return rng.weighted<string>([
      [8, pct(v)],
      [1, rng.pick(['%00', '%ZZ', '%', '..', '%2e%2e', '%2F', '%F0%9F', '%ED%A0%80'])],
      [1, pct(v).replace(/%25/g, '%')],
    ]);
  });
}

function fuzzQuery(rng: Random, op: OpenApiRoute['operation']): string {
  const parts: string[] = [];
  for (const p of op.parameters ?? []) {
    if (p.in !== 'query') continue;
    if (!p.required && rng.chance(0.4)) continue;
    const value = rng.weighted<() => string>([
      [5, () => String(valueFromSchema(rng, (p.schema ?? {}) as Schema, (n) => fieldValue(rng, n), p.name))],
      [3, () => hostileString(rng, 600)],
      [2, () => rng.pick(['1e309', '-0', '-1', 'NaN', '1.5', '9007199254740993', 'true', '', '[]', '{}'])],
    ])();
    parts.push(`${pct(p.name)}=${pct(value)}`);
    if (rng.chance(0.05)) parts.push(`${pct(p.name)}=${pct(hostileString(rng, 50))}`); // repeated
  }
  if (rng.chance(0.08)) parts.push(`${pct(rng.pick(PROTOTYPE_KEYS))}=1`);
  if (rng.chance(0.03)) parts.push(`x=${'a'.repeat(rng.pick([1000, 20_000]))}`);
  // The admin feed may follow for ever; follow is still fuzzed, and the reader below stops reading.
  return parts.length > 0 ? `?${parts.join('&')}` : '';
}

function fuzzBody(rng: Random, op: OpenApiRoute['operation']): { body?: string; contentType?: string; how: string } {
  const schema = op.requestBody?.content?.['application/json']?.schema as Schema | undefined;
  const contentType = rng.weighted<string | undefined>([
    [20, 'application/json'],
    [1, 'text/plain'],
    [1, 'application/json; charset=utf-16'],
    [1, 'application/x-www-form-urlencoded'],
    [1, undefined],
  ]);
  if (!schema) {
    if (rng.chance(0.85)) return { how: 'no body' };
    return { body: toJsonText(valueFromSchema(rng, { type: 'object', properties: { commandId: { type: 'string' } } }, (n) => fieldValue(rng, n))), contentType, how: 'unexpected body' };
  }
  const valid = valueFromSchema(rng, schema, (n) => fieldValue(rng, n)) as Record<string, unknown>;
  const kind = rng.weighted<string>([
    [12, 'mutated'],
    [1, 'empty'],
    [1, 'invalid-json'],
    [1, 'over-limit'],
  ]);
  switch (kind) {
    case 'empty':
      return { body: '', contentType, how: kind };
    case 'invalid-json':
      return { body: rng.pick(['{', '{"a":', 'nul', '\u0000', '{"text":"\ud800"}', "{'a':1}"]), contentType, how: kind };
    case 'over-limit':
      return { body: JSON.stringify({ ...valid, text: bigString(rng, 70 * 1024) }), contentType, how: kind };
    default: {
      const m = mutate(rng, valid);
      return { body: m.text, contentType, how: m.how };
    }
  }
}

async function httpInput(rng: Random, describe: (s: string) => void): Promise<void> {
  const route = rng.chance(0.03) ? null : rng.pick(routes);
  const method = route ? (rng.chance(0.02) ? rng.pick(['PUT', 'PATCH', 'OPTIONS', 'HEAD']) : route.method) : 'GET';
  const path = route ? fuzzPath(rng, route.path) + fuzzQuery(rng, route.operation) : rng.pick(HIDDEN_GETS);
  const b: { body?: string; contentType?: string; how: string } = route && method !== 'GET' && method !== 'HEAD' ? fuzzBody(rng, route.operation) : { how: 'no body' };
  const token = fuzzToken(rng);
  const headers: Record<string, string> = {};
  if (token !== undefined) headers.authorization = rng.chance(0.97) ? `Bearer ${token}` : rng.pick([token, `bearer ${token}`, 'Bearer', `Basic ${token}`]);
  if (b.body !== undefined && b.contentType) headers['content-type'] = b.contentType;
  if (rng.chance(0.1)) headers['idempotency-key'] = rng.pick(['1:hello', 'u:1', '__proto__', 'x'.repeat(300), `k${rng.int(100)}`]);
  if (rng.chance(0.03)) headers.accept = 'text/event-stream';
  if (rng.chance(0.02)) headers['x-request-id'] = rng.pick(['__proto__', 'x'.repeat(2000), '']);
  const label = `HTTP ${method} ${path.length > 200 ? path.slice(0, 200) + '…' : path} [${b.how}] token=${token === undefined ? 'none' : token.length > 60 ? token.slice(0, 20) + '…' : token} body=${preview(b.body)}`;
  describe(label);
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), ANSWER_TIMEOUT_MS);
  try {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, { method, headers, body: b.body, signal: controller.signal, redirect: 'manual' });
    bump(httpStatuses, `${Math.floor(res.status / 100)}xx`);
    // Read a bounded part of the body (a followed feed never ends).
    let text = '';
    if (res.body) {
      const reader = res.body.getReader();
      // A stream (the followed feed) is read briefly; anything else to its end or 256 KiB.
      const streaming = /ndjson|event-stream/.test(res.headers.get('content-type') ?? '');
      const until = Date.now() + (streaming ? 300 : ANSWER_TIMEOUT_MS);
      while (text.length < 256 * 1024 && Date.now() < until) {
        const chunk = await Promise.race([reader.read(), new Promise<null>((r) => setTimeout(() => r(null), Math.max(1, until - Date.now())))]);
        if (!chunk || chunk.done) break;
        text += Buffer.from(chunk.value).toString('utf8');
      }
      await reader.cancel().catch(() => undefined);
    }
    if (res.status >= 500) fail(`HTTP ${res.status} for ${label}\n  answer: ${preview(text, 400)}`);
    if (res.ok && method === 'POST' && route?.path.endsWith('/messages')) {
      try {
        addMessageId(JSON.parse(text).messageId);
      } catch {
        // not JSON: nothing to learn
      }
    }
  } catch (err) {
    if (controller.signal.aborted) fail(`no HTTP answer in ${ANSWER_TIMEOUT_MS} ms for ${label}`);
    else if (!(err instanceof TypeError && /header|ByteString/i.test(String((err as Error).message)))) {
      // A connection reset counts as an answer only if the node is still alive (checked by the exit watcher).
      bump(httpStatuses, `error ${(err as Error).cause ? String(((err as Error).cause as { code?: string }).code) : (err as Error).message}`);
    }
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------------------
// /v1/ws: every client frame type, valid and mutated.

function commandTemplate(rng: Random, type: string): Record<string, unknown> {
  const c = () => fieldValue(rng, 'conversationId') ?? MISSING;
  const m = () => fieldValue(rng, 'messageId') ?? MISSING;
  switch (type) {
    case 'CreateConversation':
      return { type, title: rng.chance(0.5) ? 'fuzz' : hostileString(rng, 300), members: [rng.pick(userPool())] };
    case 'AddMember':
    case 'RemoveMember':
      return { type, conversationId: c(), userId: fieldValue(rng, 'userId') ?? 'x' };
    case 'PostMessage':
      return {
        type,
        conversationId: c(),
        text: rng.chance(0.5) ? 'fuzz' : hostileString(rng, 4096),
        ...(rng.chance(0.3) && { format: rng.pick(['plain', 'markdown']) }),
        ...(rng.chance(0.2) && { threadRootId: m() }),
      };
    case 'DeleteMessage':
      return { type, conversationId: c(), messageId: m() };
    case 'AddReaction':
    case 'RemoveReaction':
      return { type, conversationId: c(), messageId: m(), emoji: fieldValue(rng, 'emoji') ?? '👍' };
    case 'MarkRead':
    case 'MarkMentionsRead':
      return { type, conversationId: c(), seq: rng.pick([0, 1, 2, 10, 1000]) };
    case 'SetRole':
      return { type, conversationId: c(), userId: fieldValue(rng, 'userId') ?? 'x', role: rng.pick(['owner', 'admin', 'member', 'guest', 'root']) };
    case 'MuteMember':
      return { type, conversationId: c(), userId: fieldValue(rng, 'userId') ?? 'x', until: rng.pick([0, Date.now() + 60_000, -1, 1e300]) };
    case 'BanMember':
    case 'UnbanMember':
      return { type, conversationId: c(), userId: fieldValue(rng, 'userId') ?? 'x' };
    case 'ReportMessage':
      return { type, conversationId: c(), messageId: m(), reason: rng.chance(0.5) ? 'fuzz' : hostileString(rng, 2000) };
    case 'PinMessage':
    case 'UnpinMessage':
      return { type, conversationId: c(), messageId: m() };
    case 'ResolveReport':
      return { type, conversationId: c(), messageId: m(), outcome: rng.pick(['resolved', 'dismissed', 'ignored', 1]) };
    case 'FollowThread':
    case 'UnfollowThread':
      return { type, conversationId: c(), threadRootId: m() };
    case 'MarkThreadRead':
      return { type, conversationId: c(), threadRootId: m(), seq: rng.pick([0, 1, 2, 10, 1000]) };
    case 'SetRetention':
      return { type, conversationId: c(), periodSeconds: rng.pick([null, 1, 3600, 0, -1, 1e300, 1.5]) };
    case 'EraseMessage':
      return { type, conversationId: c(), messageId: m() };
    default:
      throw new Error(`no fuzz template for command ${type}: add one`);
  }
}

function frameTemplate(rng: Random, type: string, id: string): Record<string, unknown> {
  switch (type) {
    case 'auth':
      return { type, token: fuzzToken(rng) ?? '' };
    case 'subscribe':
      return { type, conversations: [{ conversationId: fieldValue(rng, 'conversationId') ?? MISSING, afterSeq: rng.pick([0, 1, 5, 50, 500, 10_000, 1e9]) }] };
    case 'unsubscribe':
      return { type, conversationIds: [fieldValue(rng, 'conversationId') ?? MISSING] };
    case 'command':
      return { type, id, command: commandTemplate(rng, rng.pick(COMMAND_TYPES)) };
    case 'typing':
      return { type, conversationId: fieldValue(rng, 'conversationId') ?? MISSING };
    case 'ping':
      return { type, id };
    default:
      throw new Error(`no fuzz template for frame ${type}: add one`);
  }
}

interface FuzzSocket {
  ws: WebSocket;
  pongs: Set<string>;
  waiters: Set<() => void>;
  closed: boolean;
  closeCode?: number;
  ready: boolean;
  /** Inputs sent on this socket, to name in failures. */
  sent: string[];
}

function openFuzzSocket(token: string | undefined): Promise<FuzzSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/ws`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  const s: FuzzSocket = { ws, pongs: new Set(), waiters: new Set(), closed: false, ready: false, sent: [] };
  const wake = () => {
    for (const w of s.waiters) w();
  };
  ws.on('message', (data: Buffer) => {
    let f: ServerFrame;
    try {
      f = JSON.parse(data.toString('utf8'));
    } catch {
      fail(`/v1/ws sent a frame that is not JSON: ${preview(data.toString('utf8'))}`);
      return;
    }
    if (f.type === 'pong' && f.id) s.pongs.add(f.id);
    if (f.type === 'ready') s.ready = true;
    if (f.type === 'error') {
      bump(wsErrors, f.code);
      const status = (ERRORS as Record<string, { status: number }>)[f.code]?.status;
      if (status === undefined || status >= 500) {
        fail(`/v1/ws error ${f.code} (${preview(f.message)}) for one of the inputs on this socket:\n    ${s.sent.slice(-5).join('\n    ')}`);
      }
    }
    if (f.type === 'ack' && f.result?.messageId) addMessageId(f.result.messageId);
    wake();
  });
  ws.on('close', (code) => {
    s.closed = true;
    s.closeCode = code;
    bump(wsCloses, code);
    if (code === 1011) fail(`/v1/ws closed with 1011 (internal error) after:\n    ${s.sent.slice(-5).join('\n    ')}`);
    wake();
  });
  ws.on('error', () => undefined);
  return new Promise((resolve) => {
    ws.once('open', () => resolve(s));
    ws.once('close', () => resolve(s));
    ws.once('unexpected-response', (_req, res) => {
      bump(httpStatuses, `${Math.floor((res.statusCode ?? 0) / 100)}xx`);
      if ((res.statusCode ?? 0) >= 500) fail(`/v1/ws upgrade answered ${res.statusCode}`);
      s.closed = true;
      resolve(s);
    });
  });
}

function waitOn(s: FuzzSocket, done: () => boolean, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const check = () => {
      const ok = done();
      if (ok || s.closed) {
        s.waiters.delete(check);
        clearTimeout(timer);
        resolve(ok);
      }
    };
    const timer = setTimeout(() => {
      s.waiters.delete(check);
      resolve(false);
    }, ms);
    s.waiters.add(check);
    check();
  });
}

const FRAME_TYPES = declaredClientFrameTypes();

async function wsInput(rng: Random, worker: Worker, k: number, describe: (s: string) => void): Promise<void> {
  const id = `f-${worker.index}-${k}`;
  const type = rng.pick(FRAME_TYPES);
  const payload = rng.weighted<() => { data: string | Buffer; binary?: boolean; how: string }>([
    [16, () => {
      const m = mutate(rng, frameTemplate(rng, type, id));
      return { data: m.text, how: `${type} ${m.how}` };
    }],
    [1, () => ({ data: hostileString(rng, 2000), how: 'text' })],
    [1, () => ({ data: Buffer.from([0x7b, 0xff, 0xfe, 0xed, 0xa0, 0x80, 0x7d]), how: 'invalid utf-8' })],
    [1, () => ({ data: Buffer.from(JSON.stringify(frameTemplate(rng, type, id))), binary: true, how: 'binary frame' })],
    [1, () => ({ data: JSON.stringify({ type: 'ping', id: bigString(rng, 70 * 1024) }), how: 'over the frame limit' })],
    // One frame naming the same conversation hundreds of times from the start: work per frame must be bounded.
    [1, () => ({
      data: JSON.stringify({ type: 'subscribe', conversations: Array.from({ length: 800 }, () => ({ conversationId: pools.honestConversation, afterSeq: 0 })) }),
      how: 'subscribe storm',
    })],
  ])();
  // A few inputs go to a socket that has not authenticated yet (the first frame must be auth).
  const fresh = rng.chance(0.05);
  const label = `WS ${fresh ? '(unauthenticated socket) ' : ''}${payload.how}${payload.binary ? ' (binary)' : ''}: ${preview(typeof payload.data === 'string' ? payload.data : new Uint8Array(payload.data))}`;
  describe(label);
  if (fresh) {
    const s = await openFuzzSocket(undefined);
    if (!s.closed) {
      s.sent.push(label);
      s.ws.send(payload.data, { binary: payload.binary ?? false });
      // Answered by a close (refused) or a ready (a valid auth frame).
      const answered = await waitOn(s, () => s.closed || s.ready, ANSWER_TIMEOUT_MS);
      if (!answered) fail(`an unauthenticated /v1/ws socket got neither ready nor a close within ${ANSWER_TIMEOUT_MS} ms after ${label}`);
      if (!s.closed) s.ws.close();
    }
    return;
  }
  if (!worker.socket || worker.socket.closed) {
    const token = rng.weighted<() => string>([
      [5, () => tokenFor(MEMBER)],
      [2, () => tokenFor(OUTSIDER)],
      [2, () => tokenFor(rng.pick(HOSTILE_USERS))],
      [1, () => tokenFor(ADMIN, { role: 'admin' })],
    ])();
    worker.socket = await openFuzzSocket(token);
    if (worker.socket.closed) return;
  }
  const s = worker.socket;
  s.sent.push(label);
  if (s.sent.length > 20) s.sent.shift();
  s.ws.send(payload.data, { binary: payload.binary ?? false });
  const fence = `fence-${id}`;
  s.ws.send(JSON.stringify({ type: 'ping', id: fence }));
  const answered = await waitOn(s, () => s.pongs.delete(fence), ANSWER_TIMEOUT_MS);
  if (!answered && !s.closed) fail(`/v1/ws did not answer a ping within ${ANSWER_TIMEOUT_MS} ms after ${label}`);
}

// ---------------------------------------------------------------------------------------
// /v1/sync/<doc>: y-protocols messages, valid and hostile.

interface SyncSocket {
  ws: WebSocket;
  doc: string;
  step2: number;
  closed: boolean;
  uses: number;
  waiters: Set<() => void>;
  sent: string[];
}

function syncDocName(rng: Random): string {
  const h = pools.honestConversation;
  const f = pools.fuzzConversation;
  return rng.weighted<() => string>([
    [4, () => docNames.notes(h)],
    [3, () => docNames.notes(f)],
    [2, () => docNames.messageBody(rng.pick([h, f]), pools.messages.length > 0 ? rng.pick(pools.messages) : MISSING)],
    [2, () => docNames.draft(MEMBER, rng.pick([h, f]))],
    [1, () => docNames.draft(rng.pick(['alice', ...HOSTILE_USERS]), h)],
    [2, () => rng.pick([`notes:${rng.pick(PROTOTYPE_KEYS)}`, `msg:${h}:${rng.pick(PROTOTYPE_KEYS)}`, `draft:${rng.pick(PROTOTYPE_KEYS)}:${h}`, hostileString(rng, 300), `notes:${'a'.repeat(5000)}`, '', ':', 'notes:'])],
  ])();
}

function openSyncSocket(rng: Random): Promise<SyncSocket> {
  const doc = syncDocName(rng);
  const token = rng.weighted<() => string | undefined>([
    [6, () => tokenFor(MEMBER)],
    [1, () => tokenFor(OUTSIDER)],
    [1, () => tokenFor(rng.pick(HOSTILE_USERS))],
    [1, () => undefined],
  ])();
  const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/sync/${pct(doc)}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  const s: SyncSocket = { ws, doc, step2: 0, closed: false, uses: 0, waiters: new Set(), sent: [] };
  const wake = () => {
    for (const w of s.waiters) w();
  };
  ws.on('message', (data: Buffer) => {
    const bytes = new Uint8Array(data);
    if (isStep2(bytes)) s.step2 += 1;
    const code = deniedCode(bytes);
    if (code && (ERRORS as Record<string, { status: number }>)[code] === undefined) fail(`/v1/sync denied with an unknown code ${code} (${preview(Buffer.from(bytes).toString('utf8'))}) on ${doc}`);
    if (code && (ERRORS as Record<string, { status: number }>)[code]!.status >= 500) {
      fail(`/v1/sync answered ${code} on ${preview(doc)} after:\n    ${s.sent.slice(-5).join('\n    ')}`);
    }
    wake();
  });
  ws.on('close', (code) => {
    s.closed = true;
    bump(syncCloses, code);
    if (code === 1011) fail(`/v1/sync closed with 1011 (internal error) on ${preview(doc)} after:\n    ${s.sent.slice(-5).join('\n    ')}`);
    wake();
  });
  ws.on('error', () => undefined);
  ws.on('unexpected-response', (_req, res) => {
    bump(httpStatuses, `${Math.floor((res.statusCode ?? 0) / 100)}xx`);
    if ((res.statusCode ?? 0) >= 500) fail(`/v1/sync upgrade for ${preview(doc)} answered ${res.statusCode}`);
    s.closed = true;
    wake();
  });
  return new Promise((resolve) => {
    ws.once('open', () => resolve(s));
    ws.once('close', () => resolve(s));
    ws.once('unexpected-response', () => resolve(s));
  });
}

async function syncInput(rng: Random, worker: Worker, describe: (s: string) => void): Promise<void> {
  if (!worker.sync || worker.sync.closed || worker.sync.uses >= 25) {
    if (worker.sync && !worker.sync.closed) worker.sync.ws.close();
    worker.sync = await openSyncSocket(rng);
  }
  const s = worker.sync;
  s.uses += 1;
  const input = hostileSyncMessage(rng);
  const label = `SYNC ${preview(s.doc, 120)} ${input.how}: ${Array.isArray(input.data) ? `${input.data.length} × ${preview(input.data[0])}` : preview(input.data)}`;
  describe(label);
  if (s.closed) return;
  s.sent.push(label);
  if (s.sent.length > 20) s.sent.shift();
  for (const message of Array.isArray(input.data) ? input.data : [input.data]) s.ws.send(message, { binary: typeof message !== 'string' });
  // A step 1 after it: its step 2 shows the socket got past the input (frames are handled in order).
  const before = s.step2;
  s.ws.send(PROBE_STEP1);
  const answered = await new Promise<boolean>((resolve) => {
    const check = () => {
      if (s.step2 > before || s.closed) {
        s.waiters.delete(check);
        clearTimeout(timer);
        resolve(true);
      }
    };
    const timer = setTimeout(() => {
      s.waiters.delete(check);
      resolve(false);
    }, ANSWER_TIMEOUT_MS);
    s.waiters.add(check);
    check();
  });
  if (!answered) fail(`/v1/sync did not answer a sync step 1 within ${ANSWER_TIMEOUT_MS} ms after ${label}`);
}

// ---------------------------------------------------------------------------------------
// Raw TCP: what an HTTP or WebSocket library would never send.

function rawTcpInput(rng: Random, describe: (s: string) => void): Promise<void> {
  const token = tokenFor(MEMBER);
  const key = Buffer.from('0123456789abcdef').toString('base64');
  const upgrade = `GET /v1/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${key}\r\nAuthorization: Bearer ${token}\r\n\r\n`;
  const [how, bytes] = rng.weighted<() => [string, Buffer]>([
    [2, () => ['garbage', Buffer.from(Array.from({ length: rng.pick([1, 16, 4096]) }, () => rng.int(256)))]],
    [1, () => ['bad method', Buffer.from(`${rng.pick(['FOO', 'G\u0000T', 'GET GET'])} / HTTP/1.1\r\nHost: x\r\n\r\n`)]],
    [1, () => ['huge header', Buffer.from(`GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(rng.pick([10_000, 100_000]))}\r\n\r\n`)]],
    [1, () => ['smuggling', Buffer.from('POST /v1/conversations HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /health HTTP/1.1\r\n\r\n')]],
    [1, () => ['bad chunk', Buffer.from(`POST /v1/conversations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\n{}\r\n0\r\n\r\n`)]],
    [1, () => ['content-length lies', Buffer.from(`POST /v1/conversations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{"title":"t"}`)]],
    [1, () => ['bad upgrade', Buffer.from(upgrade.replace(key, '!!').replace('Version: 13', `Version: ${rng.pick(['8', 'x', '13, 8'])}`))]],
    [1, () => ['upgrade then unmasked frame', Buffer.concat([Buffer.from(upgrade), Buffer.from([0x81, 0x05, 0x68, 0x65, 0x6c, 0x6c, 0x6f])])]],
    [1, () => ['upgrade then reserved opcode', Buffer.concat([Buffer.from(upgrade), Buffer.from([0x83, 0x80, 1, 2, 3, 4])])]],
    [1, () => ['upgrade then 2^63 length', Buffer.concat([Buffer.from(upgrade), Buffer.from([0x82, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4])])]],
    [1, () => ['upgrade then fragmented control', Buffer.concat([Buffer.from(upgrade), Buffer.from([0x09, 0x80, 1, 2, 3, 4])])]],
  ])();
  describe(`TCP ${how}: ${preview(bytes.toString('latin1'), 120)}`);
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let answer = '';
    let finished = false;
    const done = () => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      socket.destroy();
      const m = /^HTTP\/1\.[01] (\d{3})/m.exec(answer);
      if (m) {
        bump(httpStatuses, `${m[1]![0]}xx`);
        if (Number(m[1]) >= 500) fail(`raw TCP input "${how}" was answered ${m[1]}: ${preview(answer, 300)}`);
      }
      resolve();
    };
    // Inputs that leave a request incomplete are never answered; they are let go after a second.
    const timer = setTimeout(done, 1000);
    socket.on('data', (d) => {
      if (answer.length < 4096) answer += d.toString('latin1');
      // An HTTP answer other than the 101 of an upgrade is the node's verdict; an upgrade waits for the close.
      if (/^HTTP\/1\.[01] (?!101)\d{3}/m.test(answer)) done();
    });
    socket.on('error', () => undefined);
    socket.on('close', done);
    socket.on('connect', () => socket.end(bytes));
  });
}

// ---------------------------------------------------------------------------------------
// Two honest clients.

class HonestClient {
  socket!: TestSocket;
  private connecting: Promise<void> = Promise.resolve();
  private stopped = false;
  lastSeq = 0;
  /** Sentinel indices received, per author, in arrival order. */
  readonly sentinels = new Map<string, number[]>();
  readonly reconnects: number[] = [];

  constructor(
    readonly name: string,
    readonly conversationId: string,
  ) {}

  start(): Promise<void> {
    this.connecting = this.connect();
    return this.connecting;
  }

  private async connect(): Promise<void> {
    const s = await connectWs(`http://127.0.0.1:${port}`, tokenFor(this.name, { ttlSeconds: 3600 }));
    this.socket = s;
    s.ws.on('message', (data: Buffer) => {
      const f = JSON.parse(data.toString()) as ServerFrame;
      if (f.type === 'event') this.onEvent(f.event);
      else if (f.type === 'events') for (const e of f.events) this.onEvent(e);
      else if (f.type === 'error' && (ERRORS as Record<string, { status: number }>)[f.code]!.status >= 500) fail(`honest ${this.name} got error ${f.code}: ${f.message}`);
    });
    void s.closed.then(({ code, reason }) => {
      if (this.stopped) return;
      this.reconnects.push(code);
      if (isFinalClose(code)) {
        fail(`honest client ${this.name} was closed with final code ${code} (${reason})`);
        return;
      }
      this.connecting = this.connect().catch(async (err) => {
        // A node that is gone is reported once, by the exit watcher, with its stderr.
        const exited = await Promise.race([node.exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 2000))]);
        if (!exited) fail(`honest client ${this.name} could not reconnect: ${(err as Error).message}`);
      });
    });
    await withTimeout(s.next((f) => f.type === 'ready', ANSWER_TIMEOUT_MS), ANSWER_TIMEOUT_MS, `${this.name} ready`);
    const from = s.frames.length;
    s.send({ type: 'subscribe', conversations: [{ conversationId: this.conversationId, afterSeq: this.lastSeq }] });
    await s.next((f) => f.type === 'caught-up' && f.conversationId === this.conversationId, ANSWER_TIMEOUT_MS, from);
  }

  private onEvent(e: WireEvent): void {
    if (e.conversationId !== this.conversationId) return;
    if (e.seq !== this.lastSeq + 1) {
      fail(`honest client ${this.name} received seq ${e.seq} after ${this.lastSeq}: ${e.seq <= this.lastSeq ? 'a duplicate' : 'a gap'}`);
    }
    this.lastSeq = Math.max(this.lastSeq, e.seq);
    if (e.type === 'MessagePosted') {
      const m = /^sentinel (\S+) (\d+)$/.exec(e.data.text);
      if (m && m[1] === e.actor) {
        const list = this.sentinels.get(e.actor) ?? [];
        list.push(Number(m[2]));
        this.sentinels.set(e.actor, list);
      }
    }
  }

  /** Posts sentinel `i` and waits for its ack, re-sending the same command id across reconnects. */
  async post(i: number): Promise<void> {
    const id = `sentinel-${this.name}-${i}`;
    const deadline = Date.now() + 4 * ANSWER_TIMEOUT_MS;
    while (Date.now() < deadline && !aborted) {
      await this.connecting;
      const s = this.socket;
      const from = s.frames.length;
      s.send({ type: 'command', id, command: { type: 'PostMessage', conversationId: this.conversationId, text: `sentinel ${this.name} ${i}` } });
      const answer = await Promise.race([
        s.next((f) => (f.type === 'ack' || f.type === 'error') && f.id === id, ANSWER_TIMEOUT_MS, from).catch(() => null),
        s.closed.then(() => null),
      ]);
      if (answer?.type === 'ack') return;
      if (answer?.type === 'error') {
        fail(`honest ${this.name}'s sentinel ${i} was refused: ${answer.code} ${answer.message}`);
        return;
      }
      if (!s.closed && s.ws.readyState === WebSocket.OPEN) {
        fail(`honest ${this.name}'s sentinel ${i} got no ack in ${ANSWER_TIMEOUT_MS} ms`);
        return;
      }
      // Closed meanwhile: reconnect (in progress) and send the same command id again.
    }
    if (!aborted) fail(`honest ${this.name}'s sentinel ${i} was never acknowledged`);
  }

  stop(): void {
    this.stopped = true;
    this.socket?.close();
  }
}

// ---------------------------------------------------------------------------------------

interface Worker {
  index: number;
  rng: Random;
  socket?: FuzzSocket;
  sync?: SyncSocket;
}

let nextInput = 0;

async function runWorker(worker: Worker): Promise<void> {
  while (!aborted) {
    const k = nextInput++;
    if (k >= INPUTS) return;
    const channel = worker.rng.weighted<keyof typeof counts>([
      [40, 'http'],
      [38, 'ws'],
      [18, 'sync'],
      [4, 'tcp'],
    ]);
    counts[channel] += 1;
    let label: string = channel;
    const describe = (s: string) => {
      label = s;
      inFlight.set(worker.index, `#${k} ${s}`);
    };
    const t0 = performance.now();
    try {
      if (channel === 'http') await httpInput(worker.rng, describe);
      else if (channel === 'ws') await wsInput(worker.rng, worker, k, describe);
      else if (channel === 'sync') await syncInput(worker.rng, worker, describe);
      else await rawTcpInput(worker.rng, describe);
    } catch (err) {
      fail(`input #${k} could not be run (${(err as Error).message}): ${label}`);
    }
    channelMs[channel] += performance.now() - t0;
    inFlight.delete(worker.index);
    recent.push(`#${k} ${label.length > 300 ? label.slice(0, 300) + '…' : label}`);
    if (recent.length > 50) recent.shift();
    progressed();
  }
}

function rssMb(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** Keeps the tail of what the node wrote: crash stacks on stderr, error log lines on stdout. */
function tapOutput(n: SpawnedNode): void {
  let errBuf = '';
  n.process.stderr!.on('data', (d: Buffer) => {
    errBuf += d.toString();
    const lines = errBuf.split('\n');
    errBuf = lines.pop()!;
    stderrTail.push(...lines);
    if (stderrTail.length > 60) stderrTail.splice(0, stderrTail.length - 60);
  });
  n.process.stdout!.on('data', (d: Buffer) => {
    const s = d.toString();
    if (!s.includes('"level":50') && !s.includes('"level":60')) return;
    for (const line of s.split('\n')) {
      if (line.includes('"level":50') || line.includes('"level":60')) errorLogTail.push(line.slice(0, 600));
    }
    if (errorLogTail.length > 20) errorLogTail.splice(0, errorLogTail.length - 20);
  });
}

describe('fuzz: hostile input on every door while honest clients chat', () => {
  const honest: HonestClient[] = [];
  let stopping = false;

  beforeAll(async () => {
    console.log(`[fuzz] seed=${SEED} inputs=${INPUTS} concurrency=${CONCURRENCY} maxRss=${MAX_RSS_MB}MB — replay: ${REPLAY}`);
    dir = tempDir('parley-fuzz-');
    // No rate limits: every input reaches the code behind them.
    node = await spawnNode(dir.path, { PARLEY_RATE_PER_CONNECTION: '0', PARLEY_RATE_PER_USER: '0' });
    port = Number(new URL(node.url).port);
    tapOutput(node);
    void node.exited.then((code) => {
      if (!stopping) abort(`the node exited (${code})\n  stderr:\n    ${stderrTail.slice(-30).join('\n    ')}\n  error log:\n    ${errorLogTail.slice(-5).join('\n    ')}`);
    });
    const docs = await api(node.url, tokenFor(MEMBER)).get('/docs/json');
    expect(docs.status).toBe(200);
    routes = openApiRoutes(docs.body);
    const alice = api(node.url, tokenFor('alice'));
    const created = await alice.post('/v1/conversations', { title: 'honest', members: ['bob', MEMBER] });
    expect(created.status).toBe(201);
    pools.honestConversation = created.body.id;
    const first = await alice.post(`/v1/conversations/${pools.honestConversation}/messages`, { clientMessageId: 'first', text: 'hello bob' });
    addMessageId(first.body.messageId);
    // History worth catching up on, so subscribe frames (repeated, from 0) cost the node what they would in production.
    const filler = await connectWs(node.url, tokenFor(MEMBER));
    await filler.next((f) => f.type === 'ready');
    for (let batch = 0; batch < PREFILL / 100; batch++) {
      const acks = await Promise.all(
        Array.from({ length: 100 }, (_, i) =>
          filler.command(`prefill-${batch}-${i}`, { type: 'PostMessage', conversationId: pools.honestConversation, text: `history ${batch * 100 + i} ${'h'.repeat(200)}` }),
        ),
      );
      for (const a of acks) expect(a.type).toBe('ack');
    }
    filler.close();
    const own = await api(node.url, tokenFor(MEMBER)).post('/v1/conversations', { title: 'fuzz', members: [OUTSIDER, ...HOSTILE_USERS.slice(0, 2)] });
    expect(own.status).toBe(201);
    pools.fuzzConversation = own.body.id;
    pools.conversations.push(pools.honestConversation, pools.fuzzConversation);
    const projections = await api(node.url, tokenFor(ADMIN, { role: 'admin' })).get('/v1/admin/projections');
    pools.projections.push(...projections.body.projections.map((p: { name: string }) => p.name));
    for (const name of HONEST) honest.push(new HonestClient(name, pools.honestConversation));
    await Promise.all(honest.map((h) => h.start()));
  }, 60_000);

  afterAll(async () => {
    stopping = true;
    for (const h of honest) h.stop();
    if (node) await node.kill('SIGKILL');
    dir?.remove();
  });

  it('has a fuzz template for every client frame type and command type the protocol declares', () => {
    const rng = seededRandom(SEED);
    for (const t of FRAME_TYPES) expect(() => frameTemplate(rng, t, 'x'), t).not.toThrow();
    for (const t of COMMAND_TYPES) expect(() => commandTemplate(rng, t), t).not.toThrow();
    expect(routes.length, 'routes from the OpenAPI document').toBeGreaterThan(10);
  });

  it(`survives ${INPUTS} hostile inputs (seed ${SEED}) with no 5xx, no lost or reordered honest message and bounded memory`, async () => {
    const started = Date.now();
    const pid = node.process.pid!;
    const memory = setInterval(() => {
      const mb = rssMb(pid);
      if (mb === null) return;
      peakRssMb = Math.max(peakRssMb, mb);
      if (mb > MAX_RSS_MB && !aborted) {
        abort(`node RSS ${mb.toFixed(0)} MB is over the bound of ${MAX_RSS_MB} MB`);
        node.process.kill('SIGKILL'); // protect the machine; the run is failed already
      }
    }, 200);

    // The honest clients chat through the whole run: sentinel i goes out once i/SENTINELS of the inputs are done.
    const chat = honest.map(async (h) => {
      for (let i = 0; i < SENTINELS && !aborted; i++) {
        await untilProgress(Math.floor((i * INPUTS) / SENTINELS));
        await h.post(i);
      }
    });
    // A member the fuzzer removed (it may remove itself) is added back, so the member's inputs keep reaching the deciders.
    const repair = (async () => {
      for (let at = 1000; at < INPUTS && !aborted; at += 1000) {
        await untilProgress(at);
        const p = await api(node.url, tokenFor('alice')).get(`/v1/conversations/${pools.honestConversation}/presence`);
        if (p.status === 200 && !p.body.members.some((m: { userId: string }) => m.userId === MEMBER)) {
          await api(node.url, tokenFor('alice')).post(`/v1/conversations/${pools.honestConversation}/members`, { userId: MEMBER });
        }
      }
    })();

    const root = seededRandom(SEED);
    const workers: Worker[] = Array.from({ length: CONCURRENCY }, (_, index) => ({ index, rng: root.fork() }));
    await Promise.all(workers.map((w) => runWorker(w)));
    for (const w of workers) {
      w.socket?.ws.close();
      w.sync?.ws.close();
    }
    for (const p of progressWaiters.splice(0)) p.resolve();
    await Promise.all(chat);
    await repair.catch((err) => {
      if (!aborted) fail(`repair: ${(err as Error).message}`);
    });

    // Every honest message reaches the other honest client exactly once, in order.
    if (!aborted) {
      const deadline = Date.now() + ANSWER_TIMEOUT_MS;
      const complete = () => honest.every((h) => honest.every((o) => o === h || (h.sentinels.get(o.name)?.length ?? 0) >= SENTINELS));
      while (!complete() && Date.now() < deadline && !aborted) await new Promise((r) => setTimeout(r, 50));
      for (const h of honest) {
        for (const o of honest) {
          if (o === h) continue;
          const got = h.sentinels.get(o.name) ?? [];
          const want = Array.from({ length: SENTINELS }, (_, i) => i);
          if (JSON.stringify(got) !== JSON.stringify(want)) {
            fail(`${h.name} received ${o.name}'s sentinels as [${got.join(',')}], expected 0..${SENTINELS - 1} once each in order`);
          }
        }
      }
      const health = await api(node.url).get('/health').catch((err: Error) => ({ status: 0, body: err.message }));
      if (health.status !== 200) fail(`/health answered ${health.status} after the run`);
    }
    clearInterval(memory);
    const finalRss = rssMb(pid);
    if (finalRss !== null) peakRssMb = Math.max(peakRssMb, finalRss);

    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    const fmt = (m: Map<unknown, number>) => [...m].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k}:${v}`).join(' ');
    console.log(
      `[fuzz] seed=${SEED} ${completed}/${INPUTS} inputs in ${seconds}s — http=${counts.http} ws=${counts.ws} sync=${counts.sync} tcp=${counts.tcp}` +
        ` (mean ms ${(Object.keys(counts) as Array<keyof typeof counts>).map((c) => `${c} ${(channelMs[c] / Math.max(1, counts[c])).toFixed(1)}`).join(', ')})` +
        ` | http ${fmt(httpStatuses)} | ws errors ${fmt(wsErrors)} | ws closes ${fmt(wsCloses)} | sync closes ${fmt(syncCloses)}` +
        ` | honest ${honest.map((h) => `${h.name}: seq ${h.lastSeq}, reconnects [${h.reconnects.join(',')}]`).join('; ')}` +
        ` | peak RSS ${peakRssMb.toFixed(0)} MB | failures ${failures.length}`,
    );
    if (errorLogTail.length > 0) console.log(`[fuzz] node error log (last ${errorLogTail.length}):\n  ${errorLogTail.join('\n  ')}`);
    expect(failures, failures.join('\n\n')).toEqual([]);
    expect(completed).toBe(INPUTS);
  }, 240_000);
});

