/**
 * The node's delivery path alone, for A/B work on its CPU: the real FanOut, Subscription
 * and SendBuffer writing to real sockets (a `ws` server in this process, the clients in a
 * child process), with no store, commit or read models around them. Posts are offered at
 * a fixed rate as the fanout scenario's load does (rooms × 10 members, one sender per
 * room, 100-byte texts; the sender's ack goes out in the same turn as the commit's
 * deliveries), and this process's CPU (user + system, main thread and libuv alike) is
 * divided by the posts: much steadier than a whole node's CPU on a shared machine.
 *
 *   npx tsx bench/delivery-path.ts [posts/s = 500] [seconds = 10] [rooms = 50] [engine dir]
 *
 * `engine dir` (default: this tree's engine/) lets one script measure another tree.
 * The 2 ms pacing timer alone costs ~60 ms/s here (run at 1 post/s to see it): subtract it
 * before reading small differences. Under `strace -f -c -e trace=write,writev` it counts
 * the write syscalls per post, which machine load does not blur.
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { WebSocketServer, type WebSocket } from 'ws';

const rate = Number(process.argv[2] ?? 500);
const seconds = Number(process.argv[3] ?? 10);
const roomCount = Number(process.argv[4] ?? 50);
const engine = resolve(process.argv[5] ?? new URL('../engine', import.meta.url).pathname);
const MEMBERS = 10;

if (process.argv[2] === 'client') {
  // The child: opens the sockets and counts frames; reports the count when asked.
  const { WebSocket: Client } = await import('ws');
  const [url, n] = [process.argv[3]!, Number(process.argv[4])];
  let frames = 0;
  const sockets = await Promise.all(
    Array.from({ length: n }, () => new Promise<InstanceType<typeof Client>>((ok, fail) => {
      const s = new Client(url, { perMessageDeflate: false });
      s.on('message', () => void (frames += 1));
      s.once('open', () => ok(s));
      s.once('error', fail);
    })),
  );
  process.send!({ ready: sockets.length });
  process.on('message', (m: { count?: boolean; close?: boolean }) => {
    if (m.count) process.send!({ frames });
    if (m.close) process.exit(0);
  });
} else {
  const { FanOut } = await import(pathToFileURL(`${engine}/node/fan-out.ts`).href);
  const { Subscription } = await import(pathToFileURL(`${engine}/node/subscription.ts`).href);
  const { SendBuffer, sendBufferLimits } = await import(pathToFileURL(`${engine}/node/send-buffer.ts`).href);
  const { createMetrics } = await import(pathToFileURL(`${engine}/node/metrics.ts`).href);

  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await once(wss, 'listening');
  const accepted: WebSocket[] = [];
  wss.on('connection', (s) => accepted.push(s));
  const total = roomCount * MEMBERS;
  const child = fork(new URL(import.meta.url).pathname, ['client', `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, String(total)], {
    execArgv: ['--import', 'tsx'],
  });
  const ask = <T>(m: object) => new Promise<T>((ok) => { child.once('message', ok); if (Object.keys(m).length) child.send(m); });
  await ask({});
  while (accepted.length < total) await new Promise((r) => setTimeout(r, 10));

  const fanOut = new FanOut(null, createMetrics('bench'), async () => undefined);
  const limits = sendBufferLimits(8 << 20, 30_000);
  const noStore = { streamVersion: async () => 0, readStream: async () => [] };
  const senders: Array<{ send(f: string): void }> = [];
  const starts: Array<Promise<void>> = [];
  for (let r = 0; r < roomCount; r++) {
    const conversationId = `room-${r}`;
    for (let m = 0; m < MEMBERS; m++) {
      const socket = accepted[r * MEMBERS + m]!;
      const buffer = new SendBuffer(socket, limits, { slowClosed: () => undefined });
      const sink = {
        get open() { return buffer.open; },
        get congested() { return buffer.congested; },
        chunkBytes: limits.chunkBytes,
        send: (f: string) => buffer.send(f),
        sendPaced: (f: string) => buffer.sendPaced(f),
        drained: () => buffer.drained(),
        catchUpSlot: async () => () => undefined,
        stillMember: async () => true,
        ended: () => undefined,
        fellBack: () => undefined,
        tooSlow: () => undefined,
        failed: (_s: unknown, err: unknown) => console.error(err),
      };
      const sub: { offer(run: unknown): void; start(): Promise<void> } = new Subscription(conversationId, `u${r}-${m}`, 0, sink, noStore, { catchUpLimit: 1000, slowConsumerMs: 60_000 });
      fanOut.add(conversationId, { userId: `u${r}-${m}`, offer: (run: unknown) => sub.offer(run), memberLeft: () => undefined, sendEphemeral: (f: string) => buffer.sendEphemeral(f), send: (f: string) => buffer.send(f) });
      starts.push(sub.start());
      if (m === 0) senders.push(buffer);
    }
  }
  await Promise.all(starts);
  // Every socket's `caught-up` has arrived before counting starts.
  let baseline = 0;
  while (baseline < total) baseline = (await ask<{ frames: number }>({ count: true })).frames;

  // Posts at a fixed rate, gathered per 2 ms turn as a group commit would; each room's seq grows.
  const seqs = new Array<number>(roomCount).fill(0);
  let position = 0;
  let posted = 0;
  const text = 'x'.repeat(100);
  const post = (count: number) => {
    const events = [];
    for (let i = 0; i < count; i++) {
      const r = (posted + i) % roomCount;
      const seq = (seqs[r] ?? 0) + 1;
      seqs[r] = seq;
      position += 1;
      events.push({
        stream: `conversation-room-${r}`, seq, position, id: `e${position}`, type: 'MessagePosted',
        data: { messageId: `m${position}`, text }, metadata: { actor: `u${r}-0`, commandId: `c${position}`, correlationId: `c${position}`, at: Date.now(), schemaVersion: 1 },
      });
    }
    fanOut.deliver(events);
    for (const e of events) senders[Number(e.stream.slice(18))]!.send(JSON.stringify({ type: 'ack', id: e.metadata.commandId, result: { seq: e.seq, position: e.position, eventIds: [e.id] }, duplicate: false }));
    posted += count;
  };
  const TURN_MS = 2;
  const run = async (ms: number) => {
    const started = performance.now();
    let due = 0;
    while (performance.now() - started < ms) {
      const want = Math.floor(((performance.now() - started) / 1000) * rate);
      if (want > due) { post(want - due); due = want; }
      await new Promise((r) => setTimeout(r, TURN_MS));
    }
  };
  await run(1000); // warm-up
  const postedBefore = posted;
  const cpu = process.cpuUsage();
  await run(seconds * 1000);
  const used = process.cpuUsage(cpu);
  const posts = posted - postedBefore;
  const expected = baseline + posted * (MEMBERS + 1);
  let frames = 0;
  for (let i = 0; i < 500 && frames < expected; i++) {
    frames = (await ask<{ frames: number }>({ count: true })).frames;
    if (frames < expected) await new Promise((r) => setTimeout(r, 20));
  }
  const us = (x: number) => ((x / posts) / 1000).toFixed(4);
  console.log(
    `${posts} posts @ ${rate}/s, ${roomCount} rooms × ${MEMBERS}: ${us(used.user + used.system)} ms CPU per post (user ${us(used.user)}, system ${us(used.system)}); ` +
      `frames received ${frames - baseline} of ${posted * (MEMBERS + 1)} (${engine})`,
  );
  child.send({ close: true });
  wss.close();
  for (const s of accepted) s.terminate();
  process.exit(0);
}
