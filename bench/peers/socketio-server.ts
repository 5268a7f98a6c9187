/**
 * What most Node chat apps are: a Socket.IO 4 server with the default in-memory adapter,
 * rooms, and no persistence. Clients authenticate with `auth: {token}` (checked in a
 * middleware), `join` rooms (acknowledged), and `post`, which the server broadcasts to
 * the room with `io.to(room).emit('msg', …)`. WebSocket transport only, as the load
 * generators speak Engine.IO v4 over WebSocket directly.
 */
import { createServer } from 'node:http';
import { Server } from 'socket.io';
import { verifyBenchToken } from '../jwt.js';

const http = createServer((req, res) => {
  if (req.url === '/health') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
  if (!req.url?.startsWith('/socket.io')) res.writeHead(404).end();
});
const io = new Server(http, { serveClient: false, transports: ['websocket'], maxHttpBufferSize: 64 * 1024 });
const seqs = new Map<string, number>();

io.use((socket, next) => {
  const token = (socket.handshake.auth as { token?: unknown }).token;
  const user = typeof token === 'string' ? verifyBenchToken(token) : null;
  if (!user) return next(new Error('unauthorized'));
  socket.data.user = user;
  next();
});

io.on('connection', (socket) => {
  socket.on('join', (rooms: unknown, ack?: () => void) => {
    if (Array.isArray(rooms)) void socket.join(rooms.filter((r) => typeof r === 'string'));
    if (typeof ack === 'function') ack();
  });
  socket.on('post', (p: { room?: unknown; text?: unknown }) => {
    if (typeof p?.room !== 'string' || !socket.rooms.has(p.room)) return;
    const seq = (seqs.get(p.room) ?? 0) + 1;
    seqs.set(p.room, seq);
    io.to(p.room).emit('msg', { room: p.room, seq, from: socket.data.user, text: p.text });
  });
});

http.listen(Number(process.env.PORT ?? 0), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
process.on('disconnect', () => process.exit(0));
