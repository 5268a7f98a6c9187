/**
 * Keeps one Y.Doc in sync with the server's copy over the sync endpoint, online or not.
 *
 * - On start it loads the stored state (offline edits of earlier runs), then connects.
 * - Each connect sends step 1 and answers the server's step 1 with step 2, so both sides
 *   exchange only what the other lacks; edits made while offline merge here.
 * - Local updates go to the server as they happen and to storage shortly after.
 * - A close with 4400–4499 is final (no permission, bad token): it stops and says why.
 *   Any other close reconnects with jittered exponential backoff, asking the token
 *   provider again each time.
 * - A refused update (`denied`) stays in the local doc; the server neither stored nor
 *   forwarded it. Apps usually show the error and reload the document.
 *
 * Browser-safe: imports only yjs, y-protocols, lib0 and the shared protocol.
 */
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import * as authProtocol from 'y-protocols/auth';
import * as awarenessProtocol from 'y-protocols/awareness';
import * as syncProtocol from 'y-protocols/sync';
import * as Y from 'yjs';
import { isErrorCode, isFinalClose, type ErrorBody } from '../../protocol/index.js';
import type { DocumentStorage } from './document-storage.js';
import { MESSAGE_AUTH, MESSAGE_AWARENESS, MESSAGE_QUERY_AWARENESS, MESSAGE_SYNC, writeAwareness, writeStep1, writeUpdate } from './wire.js';

/** The part of the WebSocket API this needs (browser WebSocket and `ws` both fit). */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: any) => void) | null;
  onmessage: ((event: { data: any }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: any) => void) | null;
}

export type SyncStatus = 'connecting' | 'connected' | 'disconnected' | 'closed';

export interface DocumentSyncOptions {
  /** The node's base URL, `http(s)://host:port` or `ws(s)://…`. */
  url: string;
  docName: string;
  /** The document to sync (default: a new one). */
  doc?: Y.Doc;
  /** Called before every connect; a fresh token each time. */
  token: () => string | Promise<string>;
  /** Persists the document between runs (default: none). */
  storage?: DocumentStorage;
  /** Opens a socket to `url` with `token`; default: the global WebSocket with `?token=`. */
  openSocket?: (url: string, token: string) => WebSocketLike;
  /** Route prefix (default `/v1/sync`). */
  path?: string;
  /** Connect at once (default true). */
  connect?: boolean;
  awareness?: awarenessProtocol.Awareness;
  /** Reconnect delays (default 250 ms growing to 10 s). */
  backoff?: { initialMs?: number; maxMs?: number };
  /** Delay before the state is written to storage after a change (default 50 ms). */
  saveDelayMs?: number;
}

type Events = {
  status: (status: SyncStatus) => void;
  synced: () => void;
  /** An update of ours was refused (nothing stored or forwarded). */
  denied: (error: ErrorBody) => void;
  /** The server closed the socket with a final code; no more reconnects. */
  closed: (close: { code: number; reason: string }) => void;
};

const OPEN = 1;

export class DocumentSync {
  readonly doc: Y.Doc;
  readonly awareness: awarenessProtocol.Awareness;
  readonly docName: string;
  /** Resolves once the stored state has been loaded into the doc. */
  readonly loaded: Promise<void>;
  status: SyncStatus = 'disconnected';
  /** True once the server's step 2 arrived on the current connection. */
  synced = false;
  private ws: WebSocketLike | null = null;
  private shouldConnect: boolean;
  private attempts = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private saveTimer: ReturnType<typeof setTimeout> | null = null;
  private saving: Promise<void> = Promise.resolve();
  private readonly listeners = new Map<keyof Events, Set<(...args: any[]) => void>>();
  private destroyed = false;
  private opening = false;

  constructor(private readonly options: DocumentSyncOptions) {
    this.doc = options.doc ?? new Y.Doc();
    this.docName = options.docName;
    this.awareness = options.awareness ?? new awarenessProtocol.Awareness(this.doc);
    this.shouldConnect = options.connect ?? true;
    this.doc.on('update', this.onDocUpdate);
    this.awareness.on('update', this.onAwarenessUpdate);
    this.loaded = this.loadStored();
    void this.loaded.then(() => {
      if (this.shouldConnect) this.open();
    });
  }

  on<E extends keyof Events>(event: E, listener: Events[E]): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener);
    return () => set!.delete(listener);
  }

  /** Resolves when the doc is synced with the server (now, or at the next connect). */
  whenSynced(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve) => {
      const off = this.on('synced', () => {
        off();
        resolve();
      });
    });
  }

  connect(): void {
    this.shouldConnect = true;
    void this.loaded.then(() => this.open());
  }

  /** Goes offline: local edits continue and sync at the next `connect()`. */
  disconnect(): void {
    this.shouldConnect = false;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.dropSocket();
  }

  /** Writes the current state to storage now. */
  async flush(): Promise<void> {
    if (this.saveTimer) {
      clearTimeout(this.saveTimer);
      this.saveTimer = null;
      this.save();
    }
    await this.saving;
  }

  async destroy(): Promise<void> {
    this.disconnect();
    await this.flush();
    this.destroyed = true;
    this.doc.off('update', this.onDocUpdate);
    this.awareness.off('update', this.onAwarenessUpdate);
    if (!this.options.awareness) this.awareness.destroy();
  }

  /**
   * Never rejects: `loaded` is awaited without a catch in several places, so a storage that
   * fails or holds an unreadable copy (a torn write) ended a Node app with an unhandled
   * rejection, at every start. The local copy is then skipped; the server's comes with sync.
   */
  private async loadStored(): Promise<void> {
    try {
      const stored = await this.options.storage?.get(this.docName);
      if (stored) Y.applyUpdate(this.doc, stored, this.options.storage);
    } catch {
      // Unreadable local copy: start from what the server sends.
    }
  }

  private async open(): Promise<void> {
    if (!this.shouldConnect || this.ws || this.opening || this.destroyed) return;
    this.setStatus('connecting');
    let ws: WebSocketLike;
    this.opening = true;
    try {
      const token = await this.options.token();
      if (!this.shouldConnect || this.ws || this.destroyed) return;
      const base = this.options.url.replace(/^http/, 'ws').replace(/\/+$/, '');
      const url = `${base}${this.options.path ?? '/v1/sync'}/${this.docName}`;
      ws = this.options.openSocket
        ? this.options.openSocket(url, token)
        : (new WebSocket(`${url}?token=${encodeURIComponent(token)}`) as unknown as WebSocketLike);
    } catch {
      return this.retry();
    } finally {
      this.opening = false;
    }
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      this.setStatus('connected');
      ws.send(writeStep1(this.doc));
      if (this.awareness.getLocalState() !== null) ws.send(writeAwareness(this.awareness, [this.doc.clientID]));
    };
    ws.onmessage = (event) => {
      if (this.ws !== ws) return;
      // A frame we cannot read (a text frame, a truncated or corrupt one: a proxy, a bug, a
      // server that is not Parley) must not throw out of onmessage, where nothing catches
      // it. The stream is no longer trustworthy: drop the socket and resync on reconnect
      // (step 1/2 exchange whatever that frame carried).
      try {
        if (!(event.data instanceof ArrayBuffer) && !ArrayBuffer.isView(event.data)) throw new TypeError('not a binary frame');
        this.receive(ws, ArrayBuffer.isView(event.data) ? new Uint8Array(event.data.buffer, event.data.byteOffset, event.data.byteLength) : new Uint8Array(event.data));
      } catch {
        if (this.ws !== ws) return;
        this.dropSocket();
        this.retry();
      }
    };
    ws.onerror = () => {};
    ws.onclose = (event) => {
      if (this.ws !== ws) return;
      this.dropSocket();
      if (isFinalClose(event.code)) {
        this.shouldConnect = false;
        this.setStatus('closed');
        this.emit('closed', { code: event.code, reason: event.reason });
      } else {
        this.retry();
      }
    };
  }

  private receive(ws: WebSocketLike, data: Uint8Array): void {
    const decoder = decoding.createDecoder(data);
    const reply = encoding.createEncoder();
    switch (decoding.readVarUint(decoder)) {
      case MESSAGE_SYNC: {
        encoding.writeVarUint(reply, MESSAGE_SYNC);
        const type = syncProtocol.readSyncMessage(decoder, reply, this.doc, this);
        if (type === syncProtocol.messageYjsSyncStep2 && !this.synced) {
          this.synced = true;
          this.attempts = 0;
          this.emit('synced');
        }
        break;
      }
      case MESSAGE_AWARENESS:
        awarenessProtocol.applyAwarenessUpdate(this.awareness, decoding.readVarUint8Array(decoder), this);
        break;
      case MESSAGE_QUERY_AWARENESS:
        ws.send(writeAwareness(this.awareness, [...this.awareness.getStates().keys()]));
        break;
      case MESSAGE_AUTH:
        authProtocol.readAuthMessage(decoder, this.doc, (_doc, reason) => this.emit('denied', parseDenied(reason)));
        break;
    }
    if (encoding.length(reply) > 1 && ws.readyState === OPEN) ws.send(encoding.toUint8Array(reply));
  }

  private retry(): void {
    if (!this.shouldConnect || this.destroyed) return;
    const initial = this.options.backoff?.initialMs ?? 250;
    const max = this.options.backoff?.maxMs ?? 10_000;
    const window = Math.min(max, initial * 2 ** Math.min(this.attempts++, 20));
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.open();
    }, window / 2 + Math.random() * (window / 2));
  }

  private dropSocket(): void {
    const ws = this.ws;
    this.ws = null;
    this.synced = false;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = null;
      ws.onerror = () => {};
      try {
        ws.close();
      } catch {
        // already closing
      }
      const others = [...this.awareness.getStates().keys()].filter((id) => id !== this.doc.clientID);
      awarenessProtocol.removeAwarenessStates(this.awareness, others, this);
    }
    if (this.status !== 'closed') this.setStatus('disconnected');
  }

  private readonly onDocUpdate = (update: Uint8Array, origin: unknown): void => {
    if (origin !== this && this.ws && this.ws.readyState === OPEN) this.ws.send(writeUpdate(update));
    if (origin !== this.options.storage) this.scheduleSave();
  };

  private readonly onAwarenessUpdate = (
    { added, updated, removed }: { added: number[]; updated: number[]; removed: number[] },
    origin: unknown,
  ): void => {
    if (origin === this || !this.ws || this.ws.readyState !== OPEN) return;
    this.ws.send(writeAwareness(this.awareness, [...added, ...updated, ...removed]));
  };

  private scheduleSave(): void {
    if (!this.options.storage || this.saveTimer) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = null;
      this.save();
    }, this.options.saveDelayMs ?? 50);
  }

  private save(): void {
    const storage = this.options.storage;
    if (!storage) return;
    const state = Y.encodeStateAsUpdate(this.doc);
    this.saving = this.saving.then(() => storage.set(this.docName, state)).catch(() => {});
  }

  private setStatus(status: SyncStatus): void {
    if (this.status === status) return;
    this.status = status;
    this.emit('status', status);
  }

  private emit<E extends keyof Events>(event: E, ...args: Parameters<Events[E]>): void {
    for (const l of this.listeners.get(event) ?? []) {
      try {
        (l as (...a: unknown[]) => void)(...args);
      } catch (err) {
        // The app's listener failed: report it as the app's own uncaught error, without
        // breaking the other listeners or making the sync layer drop a good socket.
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }
}

function parseDenied(reason: string): ErrorBody {
  try {
    const body = JSON.parse(reason) as ErrorBody;
    if (isErrorCode(body.code)) return body;
  } catch {
    // a server that is not Parley: keep its words
  }
  return { code: 'forbidden', message: reason };
}
