/**
 * Fan-out load generator (a child process). It holds the clients of some rooms, one
 * sender per room, and either saturates the server (each sender keeps `window` posts in
 * flight, a post completing when the sender receives its own delivery) or offers a fixed
 * rate. Every post carries its send time; every member records send→deliver latency.
 * After posting stops it waits (bounded) for the window's posts to reach every member,
 * so a system that falls behind is reported with its backlog and slow tail, not flattered.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Histogram, wallNow } from './histogram.js';
import { forEachSentAt, markedText } from './send-marker.js';
import { connectClient, withConcurrency, type ChatClient, type System } from './clients.js';
import { progress, serveRequests } from './serve-requests.js';
import { signBenchToken } from '../token.js';

interface Room {
  id: string;
  sender: ChatClient;
  members: ChatClient[];
}

const ERROR = Buffer.from('"type":"error"');
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

interface Phase {
  mode: 'saturate' | 'rate';
  window?: number;
  rate?: number;
  warmupMs: number;
  durationMs: number;
  textBytes: number;
  /** After posting stops, how long to wait at most for posts sent in the window to reach every member. */
  drainMs?: number;
}

export interface PhaseResult {
  /**
   * Rate mode: deliveries (to any member) of posts sent inside the measured window, however
   * late they arrive. Saturate mode: deliveries received inside the window, whenever their
   * post was sent — with a deep window a post waits longer than the phase lasts, and
   * throughput is what arrives per second.
   */
  deliveries: number;
  /** Deliveries that posts sent inside the window should make (posts × members). */
  expectedDeliveries: number;
  seconds: number;
  /** Posts sent in the whole phase, and inside the measured window. */
  sent: number;
  sentInWindow: number;
  /** Posts whose sender got them back (the server took them all the way) inside the window. */
  completedInWindow: number;
  /** Posts sent but not yet back at their sender when the window ended. */
  backlogAtEnd: number;
  /** How long after posting stopped the window's posts took to reach every member (or drainMs when they did not). */
  drainedAfterMs: number;
  /** Clients whose socket was closed (by the server or an error) by the end of the phase. */
  closed: number;
  /** Error frames the senders got (Parley answers a refused command with one), and the first. */
  errors: number;
  firstError?: string;
  /**
   * p99 of this load process's own event-loop delay over the phase (ms): when it nears the
   * latencies measured, the client side, not the server, bounds them.
   */
  loopDelayP99Ms: number;
  histogram: number[];
}

async function run(p: Phase): Promise<PhaseResult> {
  const hist = new Histogram();
  let deliveries = 0;
  let receivedInWindow = 0;
  let sent = 0;
  let sentInWindow = 0;
  let completed = 0;
  let completedInWindow = 0;
  let backlogAtEnd = -1;
  let errors = 0;
  let firstError: string | undefined;
  let posting = true;
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  const start = wallNow();
  const measureFrom = start + p.warmupMs;
  const measureTo = measureFrom + p.durationMs;
  const members = rooms[0]?.members.length ?? 0;
  const post = (room: Room) => {
    const now = wallNow();
    if (now >= measureFrom && now < measureTo) sentInWindow++;
    room.sender.post(room.id, markedText(p.textBytes));
    sent++;
  };
  for (const room of rooms) {
    for (const m of room.members) {
      const isSender = m === room.sender;
      m.onDelivery = (frame) => {
        if (isSender && frame.includes(ERROR)) ((errors++), (firstError ??= frame.toString('utf8', 0, Math.min(frame.length, 300))));
        forEachSentAt(frame, (t0) => {
          const now = wallNow();
          if (t0 >= measureFrom && t0 < measureTo) {
            deliveries++;
            hist.record(now - t0);
          }
          const inWindow = now >= measureFrom && now < measureTo;
          if (inWindow) receivedInWindow++;
          if (!isSender) return;
          completed++;
          if (inWindow) completedInWindow++;
          if (p.mode === 'saturate' && posting) post(room);
        });
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
  await new Promise((r) => setTimeout(r, Math.max(0, measureTo - wallNow())));
  backlogAtEnd = sent - completed;
  posting = false;
  if (timer) clearInterval(timer);
  // Late deliveries of posts sent inside the window still count (and their latency), so a
  // system that falls behind shows it in its percentiles instead of dropping its slowest.
  const stopped = wallNow();
  const drainMs = p.drainMs ?? 1000;
  const expectedDeliveries = sentInWindow * members;
  if (p.mode === 'rate') {
    while (deliveries < expectedDeliveries && wallNow() - stopped < drainMs) await new Promise((r) => setTimeout(r, 20));
  } else {
    // A saturated system still has up to `window` posts per sender in flight: let them
    // arrive (bounded) so they do not land in the next phase.
    while (sent > completed && wallNow() - stopped < drainMs) await new Promise((r) => setTimeout(r, 20));
  }
  const drainedAfterMs = wallNow() - stopped;
  clearInterval(tick);
  loop.disable();
  for (const room of rooms) for (const m of room.members) m.onDelivery = null;
  const closed = rooms.reduce((n, r) => n + r.members.filter((m) => m.ws.readyState !== m.ws.OPEN).length, 0);
  return {
    deliveries: p.mode === 'saturate' ? receivedInWindow : deliveries,
    expectedDeliveries,
    seconds: p.durationMs / 1000,
    sent,
    sentInWindow,
    completedInWindow,
    backlogAtEnd,
    drainedAfterMs,
    closed,
    errors,
    firstError,
    loopDelayP99Ms: loop.percentile(99) / 1e6,
    histogram: hist.counts,
  };
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
