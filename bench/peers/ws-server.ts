/**
 * The floor: a bare `ws` chat server. Clients authenticate with a Bearer token at the
 * upgrade, join rooms, and post; each post is serialized once into a Buffer and that
 * same Buffer is sent to every member of the room. No persistence, no ordering promises
 * beyond one process's event loop.
 *
 * With `JOURNAL_DIR` set it is "ws+fsync": each post is appended to a journal file there and
 * fdatasync'd (group commit, fsync-journal.ts) before it is broadcast, the one thing Parley
 * must do on top of a broadcast to keep its promise of durability before delivery.
 *
 * Frames: client `{"t":"join","rooms":[…]}` → `{"t":"joined"}`;
 * client `{"t":"post","room":…,"text":…}` → every member gets `{"t":"msg","room","seq","from","text"}`.
 */
import { createServer } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import { join } from 'node:path';
import { verifyBenchToken } from '../jwt.js';
import { FsyncJournal } from './fsync-journal.js';

const journal = process.env.JOURNAL_DIR ? await FsyncJournal.open(join(process.env.JOURNAL_DIR, 'journal')) : undefined;

const rooms = new Map<string, Set<WebSocket>>();
const seqs = new Map<string, number>();

const http = createServer((req, res) => {
  if (req.url === '/health') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
  res.writeHead(404).end();
});
const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });

http.on('upgrade', (req, socket, head) => {
  const auth = req.headers.authorization;
  const user = auth?.startsWith('Bearer ') ? verifyBenchToken(auth.slice(7)) : null;
  if (!req.url?.startsWith('/ws') || !user) {
    socket.end('HTTP/1.1 401 Unauthorized\r\n\r\n');
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, user));
});

function onConnection(ws: WebSocket, user: string): void {
  const joined = new Set<string>();
  ws.on('message', (data: Buffer) => {
    let f: { t?: string; rooms?: string[]; room?: string; text?: string };
    try {
      f = JSON.parse(data.toString('utf8'));
    } catch {
      return;
    }
    if (f.t === 'join' && Array.isArray(f.rooms)) {
      for (const r of f.rooms) {
        let set = rooms.get(r);
        if (!set) rooms.set(r, (set = new Set()));
        set.add(ws);
        joined.add(r);
      }
      ws.send('{"t":"joined"}');
    } else if (f.t === 'post' && typeof f.room === 'string' && joined.has(f.room)) {
      const seq = (seqs.get(f.room) ?? 0) + 1;
      seqs.set(f.room, seq);
      const frame = Buffer.from(JSON.stringify({ t: 'msg', room: f.room, seq, from: user, text: f.text }));
      const members = rooms.get(f.room)!;
      const broadcast = (): void => {
        for (const member of members) member.send(frame, { binary: false });
      };
      if (journal) journal.append(frame, broadcast);
      else broadcast();
    }
  });
  ws.on('close', () => {
    for (const r of joined) rooms.get(r)?.delete(ws);
  });
  ws.on('error', () => {});
  ws.send('{"t":"ready"}');
}

http.listen(Number(process.env.PORT ?? 0), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
process.on('disconnect', () => process.exit(0));
