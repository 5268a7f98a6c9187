/**
 * A frame from the server that cannot be read (text, empty, truncated, an unknown sync
 * message) must not throw out of the socket's onmessage, where nothing would catch it:
 * the client drops that socket and reconnects, and resyncs there.
 */
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { DocumentSync, type WebSocketLike } from '../../client-lib/yjs/index.js';
import { eventually } from '../helpers/eventually.js';

class FakeSocket implements WebSocketLike {
  binaryType = 'arraybuffer';
  readyState = 0;
  sent: Uint8Array[] = [];
  closed = false;
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  send(data: Uint8Array): void {
    this.sent.push(data);
  }
  close(): void {
    this.closed = true;
    this.readyState = 3;
  }
  open(): void {
    this.readyState = 1;
    this.onopen?.({});
  }
}

const hostileFrames: Array<[string, unknown]> = [
  ['a text frame', 'hello'],
  ['an empty frame', new ArrayBuffer(0)],
  ['a sync message with no type', new Uint8Array([0]).buffer],
  ['an unknown sync message type', new Uint8Array([0, 9, 0]).buffer],
  ['a step 1 cut short', new Uint8Array([0, 0, 200]).buffer],
  ['an awareness update that is not one', new Uint8Array([1, 5, 1, 2, 3]).buffer],
  ['null', null],
];

describe('DocumentSync against a server sending what it cannot read', () => {
  for (const [what, data] of hostileFrames) {
    it(`${what}: no throw, the socket is dropped and a new one opened`, async () => {
      const sockets: FakeSocket[] = [];
      const sync = new DocumentSync({
        url: 'http://127.0.0.1:1',
        docName: 'notes:c1',
        doc: new Y.Doc(),
        token: () => 't',
        backoff: { initialMs: 1, maxMs: 2 },
        openSocket: () => {
          const s = new FakeSocket();
          sockets.push(s);
          return s;
        },
      });
      await eventually(() => expect(sockets.length).toBe(1));
      sockets[0]!.open();
      expect(() => sockets[0]!.onmessage!({ data })).not.toThrow();
      expect(sockets[0]!.closed).toBe(true);
      await eventually(() => expect(sockets.length).toBe(2));
      // The new socket syncs as usual.
      sockets[1]!.open();
      expect(sockets[1]!.sent.length).toBeGreaterThan(0);
      sync.destroy();
    });
  }
});
