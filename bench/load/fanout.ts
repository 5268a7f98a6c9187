/**
 * Fan-out load generator (a child process). It holds the clients of some rooms, one
 * sender per room, and either saturates the server (each sender keeps `window` posts in
 * flight, a post completing when the sender receives its own delivery) or offers a fixed
 * rate. Every post carries its send time; every member records send→deliver latency.
 */
import { Histogram, wallNow } from './histogram.js';
import { connectClient, withConcurrency, type ChatClient, type System } from './clients.js';
import { progress, serveRequests } from './serve-requests.js';
import { signBenchToken } from '../jwt.js';

interface Room {
  id: string;
  sender: ChatClient;
  members: ChatClient[];
}

const MARK = Buffer.from('@T');
let rooms: Room[] = [];
let system: System = 'ws';

async function createParleyConversation(url: string, members: string[]): Promise<string> {
  const res = await fetch(`${url}/v1/conversations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${signBenchToken(members[0]!)}`, 'content-type': 'application/json' },
    body: JSON.stringify({ title: 'bench', members: members.slice(1) }),
  });
  if (!res.ok) throw new Error(`create conversation: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { id: string }).id;
}

function sentAt(frame: Buffer): number {
  const i = frame.indexOf(MARK);
  if (i < 0) return NaN;
  const end = frame.indexOf(0x40, i + 2);
  return Number(frame.toString('latin1', i + 2, end));
}

function textFor(bytes: number): string {
  const head = `@T${wallNow().toFixed(3)}@`;
  return head + 'x'.repeat(Math.max(0, bytes - head.length));
}

interface Phase {
  mode: 'saturate' | 'rate';
  window?: number;
  rate?: number;
  warmupMs: number;
  durationMs: number;
  textBytes: number;
}

async function run(p: Phase) {
  const hist = new Histogram();
  let deliveries = 0;
  let sent = 0;
  let posting = true;
  const start = wallNow();
  const measureFrom = start + p.warmupMs;
  const measureTo = measureFrom + p.durationMs;
  const post = (room: Room) => {
    room.sender.post(room.id, textFor(p.textBytes));
    sent++;
  };
  for (const room of rooms) {
    for (const m of room.members) {
      const isSender = m === room.sender;
      m.onDelivery = (frame) => {
        const t0 = sentAt(frame);
        if (Number.isNaN(t0)) return;
        const now = wallNow();
        if (t0 >= measureFrom && t0 < measureTo) {
          deliveries++;
          hist.record(now - t0);
        }
        if (isSender && p.mode === 'saturate' && posting) post(room);
      };
    }
  }
  let timer: NodeJS.Timeout | undefined;
  if (p.mode === 'saturate') {
    for (const room of rooms) for (let i = 0; i < (p.window ?? 1); i++) post(room);
  } else {
    let next = 0;
    timer = setInterval(() => {
      const due = Math.floor(((wallNow() - start) / 1000) * p.rate!) - sent;
      for (let i = 0; i < due; i++) post(rooms[next++ % rooms.length]!);
    }, 2);
  }
  const tick = setInterval(() => progress({ deliveries, sent }), 1000);
  await new Promise((r) => setTimeout(r, p.warmupMs + p.durationMs));
  posting = false;
  if (timer) clearInterval(timer);
  // Late deliveries of messages sent inside the window still count (and their latency).
  await new Promise((r) => setTimeout(r, 1000));
  clearInterval(tick);
  for (const room of rooms) for (const m of room.members) m.onDelivery = null;
  return { deliveries, seconds: p.durationMs / 1000, sent, histogram: hist.counts };
}

serveRequests({
  async setup(req) {
    system = req.system;
    // Several URLs (cluster nodes): a room's members are spread over them, round robin.
    const urls: string[] = req.urls ?? [req.url];
    const specs: string[][] = req.rooms;
    const addresses: string[] = req.localAddresses ?? ['127.0.0.1'];
    let connected = 0;
    rooms = await withConcurrency(specs, 20, async (members, k) => {
      const id = system === 'parley' ? await createParleyConversation(urls[k % urls.length]!, members) : `room-${req.offset + k}`;
      const clients = await Promise.all(
        members.map((u, j) => connectClient(system, urls[(k + j) % urls.length]!, u, { localAddress: addresses[(k + j) % addresses.length], deflate: req.deflate ?? true })),
      );
      await Promise.all(clients.map((c) => c.join([id])));
      connected += clients.length;
      if (k % 20 === 0) progress({ connected });
      return { id, sender: clients[0]!, members: clients };
    });
    return { rooms: rooms.length, clients: connected };
  },
  run: (req) => run(req.phase),
  close() {
    for (const r of rooms) for (const m of r.members) m.close();
    rooms = [];
    return {};
  },
});
