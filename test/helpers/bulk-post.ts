/**
 * Posts many messages over one real WebSocket, a bounded number in flight, and resolves
 * with the last seq acknowledged: the load that the slow-consumer and removal tests put a
 * conversation under. Texts are random, since frames over 1 KiB are compressed and a
 * repeated letter would shrink to nothing on the wire.
 */
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { tokenFor } from './node.js';

const IN_FLIGHT = 200;

export async function postMany(url: string, user: string, conversationId: string, count: number, bytes: number, tag: string): Promise<number> {
  const ws = new WebSocket(url.replace(/^http/, 'ws') + '/v1/ws', { headers: { authorization: `Bearer ${tokenFor(user)}` } });
  const pending = new Map<string, (f: { type: string; result?: { seq: number } }) => void>();
  ws.on('message', (data) => {
    const f = JSON.parse(data.toString());
    if ((f.type === 'ack' || f.type === 'error') && f.id) pending.get(f.id)?.(f);
  });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const filler = randomBytes(Math.ceil((bytes * 3) / 4)).toString('base64').slice(0, bytes);
  let last = 0;
  for (let i = 0; i < count; i += IN_FLIGHT) {
    const batch = Array.from({ length: Math.min(IN_FLIGHT, count - i) }, (_, k) => i + k);
    await Promise.all(
      batch.map(
        (j) =>
          new Promise<void>((resolve, reject) => {
            const id = `${tag}-${j}`;
            pending.set(id, (f) => {
              pending.delete(id);
              if (f.type !== 'ack') return reject(new Error(`post ${id} refused: ${JSON.stringify(f)}`));
              last = Math.max(last, f.result!.seq);
              resolve();
            });
            ws.send(JSON.stringify({ type: 'command', id, command: { type: 'PostMessage', conversationId, text: `${j} ${filler}` } }));
          }),
      ),
    );
  }
  ws.close();
  return last;
}
