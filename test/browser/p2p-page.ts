/**
 * The page of the peer-to-peer tests and bench (bundled for the browser by
 * test/helpers/p2p-pages.ts, which lists what it puts on `window`). A real file, so
 * `tsc` checks that the stock y-webrtc `WebrtcProvider` fits `syncWithPeers`.
 */
import { WebrtcProvider } from 'y-webrtc';
import * as Y from 'yjs';
import { syncWithPeers, TEXT_NAME } from '../../client-lib/yjs/index.js';

type Conn = { connected: boolean };
const w = window as unknown as Record<string, unknown>;

w.attach = async (url: string, token: string, docName: string) => {
  const doc = new Y.Doc();
  const text = doc.getText(TEXT_NAME);
  const s = await syncWithPeers({ url, docName, token: () => token, doc, WebrtcProvider, backoff: { initialMs: 50, maxMs: 500 } });
  w.s = s;
  w.text = () => text.toString();
  w.insert = (t: string) => text.insert(text.length, t);
  w.directPeers = () => {
    const conns = (s.peers as unknown as { room: { webrtcConns: Map<string, Conn> } | null }).room?.webrtcConns;
    return [...(conns?.values() ?? [])].filter((c) => c.connected).length;
  };
  w.serverStatus = () => s.server.status;
  w.roundTrip = (i: number) =>
    new Promise<number>((resolve) => {
      const mark = `!${i}!`;
      const t0 = performance.now();
      const check = () => {
        if (!text.toString().includes(mark)) return;
        text.unobserve(check);
        resolve(performance.now() - t0);
      };
      text.observe(check);
      text.insert(text.length, `#${i}#`);
    });
  w.echoing = false;
  text.observe((e) => {
    if (!w.echoing || e.transaction.local) return;
    for (const d of e.delta) {
      if (typeof d.insert !== 'string') continue;
      for (const m of d.insert.matchAll(/#(\d+)#/g)) text.insert(text.length, `!${m[1]}!`);
    }
  });
};
w.loaded = true;
