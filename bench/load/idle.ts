/**
 * Idle connections: opens `count` authenticated clients (each waits for the server's
 * ready/connect answer), spread over several loopback source addresses, and holds them
 * open until told to close.
 */
import { connectClient, withConcurrency, type ChatClient } from './clients.js';
import { progress, serveRequests } from './serve-requests.js';

let clients: ChatClient[] = [];

serveRequests({
  async open(req) {
    const { system, url, count, startIndex, localAddresses, deflate } = req as Record<string, any>;
    const t0 = performance.now();
    let failed = 0;
    let firstError: string | undefined;
    await withConcurrency(Array.from({ length: count as number }, (_, i) => i), 200, async (i) => {
      try {
        clients.push(await connectClient(system, url, `idle-${startIndex + i}`, { localAddress: localAddresses[i % localAddresses.length], deflate }));
      } catch (err) {
        failed++;
        firstError ??= String(err);
      }
      if (i % 1000 === 0) progress({ opened: clients.length });
    });
    return { opened: clients.length, failed, firstError, seconds: (performance.now() - t0) / 1000 };
  },
  /** How many are still open (a server may drop idle sockets). */
  count() {
    return { open: clients.filter((c) => c.ws.readyState === c.ws.OPEN).length };
  },
  close() {
    for (const c of clients) c.close();
    clients = [];
    return {};
  },
});
