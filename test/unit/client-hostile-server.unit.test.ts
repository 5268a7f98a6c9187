/**
 * The client against a server that sends what it should not: a frame that is not an
 * object, or one of a known type but the wrong shape, must not throw out of the socket's
 * onmessage (nothing catches it there: an uncaught error in the app). Frames that are not
 * frames are ignored; one the client cannot apply drops the socket and reconnects (which
 * resumes from the last seq). An app listener that throws is reported on its own and
 * neither stops the other listeners nor costs the connection.
 */
import { describe, expect, it, vi } from 'vitest';
import { Connection, type WebSocketLike } from '../../client-lib/connection.js';
import { Value } from '../../client-lib/observable.js';
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
