/**
 * A minimal Chrome DevTools Protocol client for a node process's inspector socket, so a
 * benchmark can force a full GC in the server it measures (any Node server started with
 * `--inspect`, Parley or a peer alike) and read its heap without code in the server.
 */
import WebSocket from 'ws';

/** A minimal Chrome DevTools Protocol client over the node's inspector socket. */
export async function inspector(url: string) {
  const ws = new WebSocket(url, { maxPayload: 1 << 30 });
  await new Promise((res, rej) => (ws.once('open', res), ws.once('error', rej)));
  let next = 1;
  const waiting = new Map<number, (r: any) => void>();
  const events = new Map<string, (p: any) => void>();
  ws.on('message', (d: Buffer) => {
    const m = JSON.parse(d.toString());
    if (m.id !== undefined) waiting.get(m.id)?.(m.result ?? m.error), waiting.delete(m.id);
    else events.get(m.method)?.(m.params);
  });
  const call = (method: string, params: object = {}): Promise<any> =>
    new Promise((res) => {
      const id = next++;
      waiting.set(id, res);
      ws.send(JSON.stringify({ id, method, params }));
    });
  return { call, on: (method: string, f: (p: any) => void) => events.set(method, f), close: () => ws.close() };
}

export type Inspector = Awaited<ReturnType<typeof inspector>>;

/** A full GC, three times over: what one frees (weak refs, finalizers) the next can collect. */
export async function collectGarbage(cdp: Inspector): Promise<void> {
  for (let i = 0; i < 3; i++) await cdp.call('HeapProfiler.collectGarbage');
}

/** The inspector of a node process listening on 127.0.0.1:`port` (started with `--inspect=127.0.0.1:<port>`). */
export async function inspectorAt(port: number): Promise<Inspector> {
  const list = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as Array<{ webSocketDebuggerUrl: string }>;
  return inspector(list[0]!.webSocketDebuggerUrl);
}
