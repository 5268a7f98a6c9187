/**
 * Yjs load generator (a child process), for Parley's sync endpoint and the y-websocket
 * peer alike (both speak y-protocols, one document per socket).
 *
 * - `offline`: a stock y-websocket 3 `WebsocketProvider` syncs a fresh document, goes
 *   offline, makes `edits` small inserts at random positions, reconnects; timed from the
 *   reconnect until an observer provider on the same document holds the whole text. Parley
 *   forwards an update only once it is appended (fsync'd), so for Parley this is the time
 *   until the server has accepted and stored the edits.
 * - `stream`: raw y-protocols sockets; per document `writersPerDoc` writers make
 *   single-character inserts, one observer socket per document counts the updates the
 *   server forwards. Closed loop: each forwarded update lets the next edit of that
 *   document go, keeping `window` edits per writer in flight.
 */
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import WebSocket from 'ws';
import { WebsocketProvider } from 'y-websocket';
import * as syncProtocol from 'y-protocols/sync';
import * as Y from 'yjs';
import { signBenchToken } from '../token.js';
import { wallNow } from './histogram.js';
import { withConcurrency } from './clients.js';
import { progress, serveRequests } from './serve-requests.js';

type System = 'parley' | 'y-websocket';

const wsBase = (url: string) => `${url.replace(/^http/, 'ws')}/v1/sync`;

/** A `ws` WebSocket class that sends the bearer token at the upgrade (Node has no browser `?token=` need). */
function bearerSocket(token: string) {
  return class extends WebSocket {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols, { headers: { authorization: `Bearer ${token}` }, perMessageDeflate: true });
    }
  };
}

/** Parley: a conversation whose members may all edit its notes. The peer has no such notion. */
async function documentFor(system: System, url: string, users: string[], k: number): Promise<string> {
  if (system !== 'parley') return `notes:bench-${process.pid}-${k}-${Date.now()}`;
  const res = await fetch(`${url}/v1/conversations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${signBenchToken(users[0]!)}`, 'content-type': 'application/json' },
    body: JSON.stringify({ title: 'bench notes', members: users.slice(1) }),
  });
  if (!res.ok) throw new Error(`create conversation: ${res.status} ${await res.text()}`);
  return `notes:${((await res.json()) as { id: string }).id}`;
}

function syncFrame(write: (e: encoding.Encoder) => void): Uint8Array {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, 0);
  write(e);
  return encoding.toUint8Array(e);
}

/** Seeded PRNG (mulberry32), so every system gets the same edits. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function provider(url: string, docName: string, user: string, doc = new Y.Doc()): WebsocketProvider {
  return new WebsocketProvider(wsBase(url), docName, doc, {
    WebSocketPolyfill: bearerSocket(signBenchToken(user)) as unknown as typeof globalThis.WebSocket,
    disableBc: true,
    maxBackoffTime: 200,
  });
}

function synced(p: WebsocketProvider, timeoutMs = 30_000): Promise<void> {
  if (p.synced) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${p.roomname} not synced within ${timeoutMs} ms`)), timeoutMs);
    const on = (s: boolean) => s && (clearTimeout(timer), p.off('sync', on), resolve());
    p.on('sync', on);
  });
}

async function offline(req: { system: System; url: string; edits: number; insertChars: number; seed: number; timeoutMs?: number }) {
  const users = ['editor', 'observer'];
  const docName = await documentFor(req.system, req.url, users, 0);
  const editor = provider(req.url, docName, users[0]!);
  const observer = provider(req.url, docName, users[1]!);
  try {
    await Promise.all([synced(editor), synced(observer)]);
    editor.disconnect();
    const text = editor.doc.getText('text');
    const rnd = random(req.seed);
    for (let i = 0; i < req.edits; i++) {
      const s = String.fromCharCode(97 + (i % 26)).repeat(req.insertChars);
      text.insert(Math.floor(rnd() * (text.length + 1)), s);
    }
    const expected = text.toString();
    const updateBytes = Y.encodeStateAsUpdate(editor.doc).byteLength;
    const seen = observer.doc.getText('text');
    const t0 = wallNow();
    const done = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`observer has ${seen.length}/${expected.length} chars after ${req.timeoutMs ?? 60_000} ms`)), req.timeoutMs ?? 60_000);
      const check = () => {
        if (seen.length === expected.length) {
          clearTimeout(timer);
          observer.doc.off('update', check);
          resolve();
        }
      };
      observer.doc.on('update', check);
    });
    editor.connect();
    await done;
    const seconds = (wallNow() - t0) / 1000;
    if (seen.toString() !== expected) throw new Error('observer text differs from the editor’s');
    return { seconds, updateBytes, chars: expected.length };
  } finally {
    editor.destroy();
    observer.destroy();
  }
}

/** One raw y-protocols socket: answers the server's step 1, reports forwarded updates. */
interface RawSocket {
  ws: WebSocket;
  doc: Y.Doc;
  onUpdate: (() => void) | null;
}

function rawSocket(url: string, docName: string, user: string): Promise<RawSocket> {
  const ws = new WebSocket(`${wsBase(url)}/${docName}`, { headers: { authorization: `Bearer ${signBenchToken(user)}` }, perMessageDeflate: true });
  const s: RawSocket = { ws, doc: new Y.Doc(), onUpdate: null };
  s.doc.on('update', (update: Uint8Array, origin: unknown) => {
    if (origin !== 'remote' && ws.readyState === WebSocket.OPEN) ws.send(syncFrame((e) => syncProtocol.writeUpdate(e, update)));
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${docName}: no sync step 2 in time`)), 30_000);
    ws.on('open', () => ws.send(syncFrame((e) => syncProtocol.writeSyncStep1(e, s.doc))));
    ws.on('error', reject);
    ws.on('close', (code, reason) => reject(new Error(`closed ${code} ${reason.toString()}`)));
    ws.on('message', (data: Buffer) => {
      const d = decoding.createDecoder(data);
      if (decoding.readVarUint(d) !== 0) return; // awareness, auth, query: not counted
      const type = decoding.readVarUint(d);
      if (type === syncProtocol.messageYjsSyncStep1) {
        ws.send(syncFrame((e) => syncProtocol.writeSyncStep2(e, s.doc, decoding.readVarUint8Array(d))));
      } else if (type === syncProtocol.messageYjsSyncStep2) {
        clearTimeout(timer);
        resolve(s);
      } else if (type === syncProtocol.messageYjsUpdate) {
        s.onUpdate?.();
      }
    });
  });
}

interface StreamDoc {
  writers: RawSocket[];
  observer: RawSocket;
  next: number;
}
let docs: StreamDoc[] = [];

async function setupStream(req: { system: System; url: string; docs: number; writersPerDoc: number; offset: number }) {
  let connected = 0;
  docs = await withConcurrency(
    Array.from({ length: req.docs }, (_, k) => k),
    10,
    async (k) => {
      const users = Array.from({ length: req.writersPerDoc + 1 }, (_, j) => (j === req.writersPerDoc ? `obs${req.offset + k}` : `y${req.offset + k}-${j}`));
      const name = await documentFor(req.system, req.url, users, req.offset + k);
      const sockets = await Promise.all(users.map((u) => rawSocket(req.url, name, u)));
      connected += sockets.length;
      progress({ connected });
      return { writers: sockets.slice(0, -1), observer: sockets.at(-1)!, next: 0 };
    },
  );
  return { docs: docs.length, sockets: connected };
}

async function runStream(req: { window: number; warmupMs: number; durationMs: number }) {
  let updates = 0;
  let sent = 0;
  let going = true;
  const start = wallNow();
  const from = start + req.warmupMs;
  const to = from + req.durationMs;
  const edit = (d: StreamDoc) => {
    const w = d.writers[d.next++ % d.writers.length]!;
    w.doc.getText('text').insert(0, 'x');
    sent++;
  };
  for (const d of docs) {
    d.observer.onUpdate = () => {
      const now = wallNow();
      if (now >= from && now < to) updates++;
      if (going) edit(d);
    };
  }
  for (const d of docs) for (let i = 0; i < req.window * d.writers.length; i++) edit(d);
  const tick = setInterval(() => progress({ updates, sent }), 1000);
  await new Promise((r) => setTimeout(r, req.warmupMs + req.durationMs));
  going = false;
  clearInterval(tick);
  await new Promise((r) => setTimeout(r, 500));
  for (const d of docs) d.observer.onUpdate = null;
  return { updates, sent, seconds: req.durationMs / 1000 };
}

serveRequests({
  offline: (req) => offline(req as Parameters<typeof offline>[0]),
  setupStream: (req) => setupStream(req as Parameters<typeof setupStream>[0]),
  runStream: (req) => runStream(req as Parameters<typeof runStream>[0]),
  close() {
    for (const d of docs) for (const s of [...d.writers, d.observer]) s.ws.terminate();
    docs = [];
    return {};
  },
});
