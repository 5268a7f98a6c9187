/**
 * The seam for features that ride on the client's connection without the core knowing
 * them — first of all Yjs documents (`client-lib/yjs/`).
 *
 * An extension gets its own storage namespace (`ext/<name>/`), the connection state, the
 * raw frames the server sends (including frame types the core does not know), a way to
 * send its own frames on the same authenticated socket, and a call after every
 * (re)authentication — the moment to run y-protocols sync step 1 again. Extensions that
 * prefer their own socket (a stock y-websocket provider) use `url` and `token` instead.
 */
import type { ServerFrame } from '../protocol/index.js';
import type { ConnectionState, TokenProvider } from './connection.js';
import { callListener, type Observable } from './observable.js';
import type { Storage } from './storage.js';

/** Any JSON frame with a type: core frames and extension frames alike. */
export type AnyFrame = { type: string } & Record<string, unknown>;

export interface ExtensionContext {
  readonly userId: string;
  /** The node's base URL as given to `createClient`. */
  readonly url: string;
  readonly token: TokenProvider;
  /** Storage under `ext/<name>/`, durable like the outbox. */
  readonly storage: Storage;
  readonly connection: Observable<ConnectionState>;
  /** Sends a frame on the client's socket if it is online; false when it could not. */
  send(frame: AnyFrame): boolean;
  /** Every frame the server sends, in order; returns an unsubscribe. */
  onFrame(listener: (frame: ServerFrame | AnyFrame) => void): () => void;
  /** Called after every successful (re)authentication, before the outbox flushes. */
  onReady(listener: () => void): () => void;
  /** The server id of a conversation or message created offline (`local:…`), once known. */
  resolveId(id: string): string | undefined;
}

export interface ClientExtension {
  /** Unique per client; also its storage namespace. */
  readonly name: string;
  attach(context: ExtensionContext): void | Promise<void>;
  /** Called by `client.close()`. */
  detach?(): void | Promise<void>;
}

/** The client's side of the seam: who listens to frames and to (re)authentication. */
export class ExtensionHub {
  private readonly frameListeners = new Set<(f: ServerFrame | AnyFrame) => void>();
  private readonly readyListeners = new Set<() => void>();

  context(base: Omit<ExtensionContext, 'onFrame' | 'onReady'>): ExtensionContext {
    return {
      ...base,
      onFrame: (l) => (this.frameListeners.add(l), () => void this.frameListeners.delete(l)),
      onReady: (l) => (this.readyListeners.add(l), () => void this.readyListeners.delete(l)),
    };
  }

  frame(f: ServerFrame | AnyFrame): void {
    for (const l of [...this.frameListeners]) callListener(l, f);
  }

  ready(): void {
    for (const l of [...this.readyListeners]) callListener(() => l(), undefined);
  }
}
