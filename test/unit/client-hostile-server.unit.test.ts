/**
 * The client against a server that sends what it should not: a frame that is not an
 * object, or one of a known type but the wrong shape, must not throw out of the socket's
 * onmessage (nothing catches it there: an uncaught error in the app). Frames that are not
 * frames are ignored; one the client cannot apply drops the socket and reconnects (which
 * resumes from the last seq). An app listener that throws is reported on its own and
 * neither stops the other listeners nor costs the connection. A local storage that fails
 * or holds an unreadable copy does not end the app with an unhandled rejection.
 */
import { describe, expect, it, vi } from 'vitest';
import { Connection, type WebSocketLike } from '../../client-lib/connection.js';
import { Value } from '../../client-lib/observable.js';
import { Outbox } from '../../client-lib/outbox.js';
import { Sender } from '../../client-lib/sender.js';
import { MemoryStorage } from '../../client-lib/storage.js';
import { DocumentSync } from '../../client-lib/yjs/index.js';
import type { ServerFrame } from '../../protocol/index.js';
import { eventually } from '../helpers/eventually.js';

class FakeSocket implements WebSocketLike {
  static made: FakeSocket[] = [];
  readyState = 0;
  closed: number | undefined;
  onopen: ((ev: any) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: any) => void) | null = null;
  constructor(readonly url: string) {
    FakeSocket.made.push(this);
  }
  send(): void {}
  close(code?: number): void {
    this.closed = code ?? 1000;
    this.readyState = 3;
  }
  open(): void {
    this.readyState = 1;
    this.onopen?.({});
  }
}

function connection(onFrame: (f: ServerFrame) => void): Connection {
  FakeSocket.made = [];
  const c = new Connection({ url: 'http://127.0.0.1:1', token: () => 't', WebSocket: FakeSocket, backoff: { initialMs: 1, maxMs: 2 }, onFrame });
  c.start();
  return c;
}

describe('client Connection against a hostile server', () => {
  it('frames that are not objects with a type are ignored, the socket stays', async () => {
    const seen: ServerFrame[] = [];
    const c = connection((f) => seen.push(f));
    await eventually(() => expect(FakeSocket.made.length).toBe(1));
    const s = FakeSocket.made[0]!;
    s.open();
    for (const data of ['null', '5', '"text"', '[]', '{}', '{"type":7}', 'not json']) {
      expect(() => s.onmessage!({ data })).not.toThrow();
    }
    expect(seen).toEqual([]);
    expect(s.closed).toBeUndefined();
    c.stop();
  });

  it('a frame the client cannot apply drops the socket and reconnects', async () => {
    const c = connection((f) => {
      if (f.type === 'events') for (const e of f.events) void e; // throws when `events` is missing
    });
    await eventually(() => expect(FakeSocket.made.length).toBe(1));
    const s = FakeSocket.made[0]!;
    s.open();
    s.onmessage!({ data: JSON.stringify({ type: 'ready', userId: 'u', nodeId: 'n' }) });
    expect(() => s.onmessage!({ data: JSON.stringify({ type: 'events', conversationId: 'c' }) })).not.toThrow();
    expect(s.closed).toBe(3000);
    await eventually(() => expect(FakeSocket.made.length).toBe(2));
    c.stop();
  });

  it("an app listener that throws does not stop the others and is reported as the app's error", async () => {
    const reported: unknown[] = [];
    const onUncaught = (err: unknown) => reported.push(err);
    const listeners = process.listeners('uncaughtException');
    process.removeAllListeners('uncaughtException');
    process.on('uncaughtException', onUncaught);
    try {
      const value = new Value(0);
      const second = vi.fn();
      value.subscribe(() => {
        throw new Error('app bug');
      });
      value.subscribe(second);
      expect(() => value.set(1)).not.toThrow();
      expect(second).toHaveBeenCalledWith(1);
      await eventually(() => expect(reported).toHaveLength(1));
    } finally {
      process.off('uncaughtException', onUncaught);
      for (const l of listeners) process.on('uncaughtException', l);
    }
  });
});

describe('client against a failing local storage', () => {
  /**
   * Node reports a rejection nobody handled once the microtask queue has drained, before
   * the next macrotask; the failures here settle through microtasks, so two turns of the
   * event loop are past that point.
   */
  const afterRejectionsReported = () => new Promise<void>((r) => setImmediate(() => setImmediate(r)));

  function collectUnhandled(): { seen: unknown[]; stop: () => void } {
    const seen: unknown[] = [];
    const on = (err: unknown) => seen.push(err);
    process.on('unhandledRejection', on);
    return { seen, stop: () => process.off('unhandledRejection', on) };
  }

  it('a document whose stored copy is unreadable or whose storage fails still loads and connects', async () => {
    const unhandled = collectUnhandled();
    try {
      for (const get of [async () => new Uint8Array([1, 2, 3, 200, 5]), async () => Promise.reject(new Error('quota'))]) {
        let opened = 0;
        const sync = new DocumentSync({
          url: 'http://127.0.0.1:1',
          docName: 'notes:c1',
          token: () => 't',
          storage: { get, set: async () => undefined },
          openSocket: () => {
            opened += 1;
            return { binaryType: '', readyState: 0, send() {}, close() {}, onopen: null, onmessage: null, onclose: null, onerror: null };
          },
        });
        await sync.loaded;
        await eventually(() => expect(opened).toBe(1));
        sync.destroy();
      }
      await afterRejectionsReported();
      expect(unhandled.seen).toEqual([]);
    } finally {
      unhandled.stop();
    }
  });

  it('an outbox whose storage fails when an ack settles it leaves no unhandled rejection', async () => {
    const unhandled = collectUnhandled();
    try {
      const storage = new MemoryStorage();
      const outbox = new Outbox(storage);
      await outbox.load();
      const item = { id: 'cmd-1', command: { type: 'MarkRead', conversationId: 'c1', seq: 1 }, createdAt: 0 } as never;
      await outbox.add(item);
      storage.put = () => Promise.reject(new Error('disk full'));
      const sent: string[] = [];
      const connection = { state: new Value({ status: 'online', attempt: 0 }), send: (f: { id: string }) => (sent.push(f.id), true) };
      const events = { confirmed: () => undefined, acked: () => undefined, failed: () => undefined };
      const sender = new Sender(outbox, connection as never, events);
      sender.kick();
      await eventually(() => expect(sent).toEqual(['cmd-1']));
      sender.onReply({ type: 'ack', id: 'cmd-1', result: { seq: 1 } } as never);
      await afterRejectionsReported();
      expect(unhandled.seen).toEqual([]);
    } finally {
      unhandled.stop();
    }
  });
  it('a socket that still reads online but takes no frame (the server is closing it) does not spin the outbox', async () => {
    const outbox = new Outbox(new MemoryStorage());
    await outbox.load();
    await outbox.add({ id: 'cmd-1', command: { type: 'MarkRead', conversationId: 'c1', seq: 1 }, createdAt: 0 } as never);
    let attempts = 0;
    let open = false;
    const sent: string[] = [];
    const connection = {
      state: new Value({ status: 'online', attempt: 0 }),
      send: (f: { id: string }) => (attempts++, open && (sent.push(f.id), true)),
    };
    const sender = new Sender(outbox, connection as never, { confirmed: () => undefined, acked: () => undefined, failed: () => undefined });
    sender.kick();
    // A timer runs: the kick loop gave the event loop back (it used to retry in microtasks for ever).
    await new Promise((r) => setTimeout(r, 0));
    expect(attempts).toBe(1);
    // The reconnect's kick sends it.
    open = true;
    sender.kick();
    await eventually(() => expect(sent).toEqual(['cmd-1']));
  });
});
