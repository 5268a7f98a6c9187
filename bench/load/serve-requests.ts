/**
 * The child side of `startLoad`: routes each request from the harness to a handler and
 * sends back its result or error. A load generator exits when its parent goes away.
 */
export type Handler = (request: Record<string, any>) => Promise<unknown> | unknown;

export function serveRequests(handlers: Record<string, Handler>): void {
  process.on('message', async (m: Record<string, any>) => {
    const handler = handlers[m.cmd];
    try {
      if (!handler) throw new Error(`unknown request ${m.cmd}`);
      const result = await handler(m);
      process.send!({ id: m.id, ok: true, result });
    } catch (err) {
      process.send!({ id: m.id, ok: false, error: err instanceof Error ? err.stack ?? err.message : String(err) });
    }
  });
  process.on('disconnect', () => process.exit(0));
  // A normal exit, so a --cpu-prof profile gets written.
  process.on('SIGTERM', () => process.exit(0));
}

export function progress(p: Record<string, unknown>): void {
  process.send?.({ progress: p });
}
