/**
 * The Yjs peer: the classic y-websocket server (`setupWSConnection` from y-websocket 1.x,
 * `bin/utils.js`, aliased as `y-websocket-v1`) on a bare `http` server, one document per
 * URL path, in memory only (no YPERSISTENCE, no callback): what `npx y-websocket` runs.
 * The Bearer header the bench clients send is checked like the other peers do, so every
 * system pays for a signature check per connection.
 */
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { WebSocketServer } from 'ws';
import { verifyBenchToken } from '../jwt.js';

delete process.env.YPERSISTENCE;
delete process.env.CALLBACK_URL;
const require = createRequire(import.meta.url);
// `bin/utils.js` is not in the package's exports map; load it by path from the package root.
const utils = join(dirname(require.resolve('y-websocket-v1')), '..', 'bin', 'utils.js');
const { setupWSConnection } = require(utils) as {
  setupWSConnection: (conn: unknown, req: unknown, options?: { docName?: string }) => void;
};

const http = createServer((req, res) => {
  if (req.url === '/health') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
  res.writeHead(404).end();
});
const wss = new WebSocketServer({ noServer: true });

http.on('upgrade', (req, socket, head) => {
  const auth = req.headers.authorization;
  const user = auth?.startsWith('Bearer ') ? verifyBenchToken(auth.slice(7)) : null;
  if (!user) {
    socket.end('HTTP/1.1 401 Unauthorized\r\n\r\n');
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => setupWSConnection(ws, req));
});

http.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
process.on('disconnect', () => process.exit(0));
