/**
 * One Y.Doc synced two ways at once: with the server (`DocumentSync` over `/v1/sync`, the
 * authority and the durable record) and directly with the other readers of the document
 * (y-webrtc, found through the node's `/v1/signaling`, which lets in only those who may
 * read the document). An edit reaches a peer over whichever path is faster, and every
 * client also sends what it receives from peers to the server, so the server receives,
 * checks and logs every update while any one of the peers reaches it. When no direct
 * connection can be made (a strict NAT, no signaling), the server path alone carries
 * everything, as without this helper.
 *
 * Awareness (presence, cursors, typing) goes both ways too, in two instances: `awareness`
 * is what the server sees (this client's own state, and the states the server relays),
 * `peerAwareness` is what WebRTC peers see. The local state is copied from the first to
 * the second. They are kept apart because a client that forwarded its peers' states to the
 * server would claim their awareness ids there (the server gives an id to the first socket
 * that speaks for it). `states()` merges both.
 *
 * y-webrtc is an optional peer dependency of @parley/client: this file never imports it;
 * the app passes its `WebrtcProvider` class (`import { WebrtcProvider } from 'y-webrtc'`).
 * Messages never go this way: they stay on the server path, durable and ordered.
 */
import * as awarenessProtocol from 'y-protocols/awareness';
import * as Y from 'yjs';
import { DocumentSync, type DocumentSyncOptions } from './document-sync.js';

/** The part of y-webrtc's `WebrtcProvider` this helper uses. */
export interface WebrtcProviderLike {
  connect(): void;
  disconnect(): void;
  destroy(): void;
  on(event: 'peers', listener: (e: { added: string[]; removed: string[]; webrtcPeers: string[]; bcPeers: string[] }) => void): void;
}

/** y-webrtc's `WebrtcProvider` class (its constructor's shape in y-webrtc 10). */
export type WebrtcProviderClass = new (
  roomName: string,
  doc: Y.Doc,
  options: { signaling: string[]; awareness: awarenessProtocol.Awareness; maxConns?: number; peerOpts?: object },
) => WebrtcProviderLike;

export interface PeerToPeerOptions extends DocumentSyncOptions {
  /** `WebrtcProvider` from y-webrtc. */
  WebrtcProvider: WebrtcProviderClass;
  /** Signaling route (default `/v1/signaling`). */
  signalingPath?: string;
  /** Most direct connections per document (y-webrtc's `maxConns`). */
  maxConns?: number;
  /** simple-peer options, e.g. `{ config: { iceServers } }` for STUN/TURN. */
  peerOpts?: object;
}

export interface PeerToPeerSync {
  readonly doc: Y.Doc;
  /** The server connection (status, `whenSynced`, storage). */
  readonly server: DocumentSync;
  /** The y-webrtc provider (its `peers` event says who is connected directly). */
  readonly peers: WebrtcProviderLike;
  /** Awareness as the server sees it; set the local state here. */
  readonly awareness: awarenessProtocol.Awareness;
  /** Awareness as the WebRTC peers see it (the local state copied from `awareness`). */
  readonly peerAwareness: awarenessProtocol.Awareness;
  /** Every known awareness state, from the server path and from peers, by client id. */
  states(): Map<number, Record<string, unknown>>;
  destroy(): Promise<void>;
}

/** The signaling URL for `baseUrl` (`http(s)://` or `ws(s)://`), with the token in the query (browsers cannot set headers on a WebSocket). */
export function signalingUrl(baseUrl: string, token: string, path = '/v1/signaling'): string {
  return `${baseUrl.replace(/^http/, 'ws').replace(/\/$/, '')}${path}?token=${encodeURIComponent(token)}`;
}

/**
 * Syncs `options.docName` with the server and with its other readers directly. The
 * signaling socket keeps the token it was opened with (it is checked at the upgrade
 * only); destroy and attach again to use a new one.
 */
export async function syncWithPeers(options: PeerToPeerOptions): Promise<PeerToPeerSync> {
  const doc = options.doc ?? new Y.Doc();
  const awareness = options.awareness ?? new awarenessProtocol.Awareness(doc);
  const peerAwareness = new awarenessProtocol.Awareness(doc);
  const copyLocal = () => {
    const mine = awareness.getLocalState();
    if (JSON.stringify(mine) !== JSON.stringify(peerAwareness.getLocalState())) peerAwareness.setLocalState(mine);
  };
  copyLocal();
  awareness.on('change', copyLocal);
  const server = new DocumentSync({ ...options, doc, awareness });
  let peers: WebrtcProviderLike;
  try {
    const token = await options.token();
    peers = new options.WebrtcProvider(options.docName, doc, {
      signaling: [signalingUrl(options.url, token, options.signalingPath)],
      awareness: peerAwareness,
      ...(options.maxConns !== undefined && { maxConns: options.maxConns }),
      ...(options.peerOpts && { peerOpts: options.peerOpts }),
    });
  } catch (err) {
    // No token, or y-webrtc refused (a provider for this room already exists in this page):
    // let go of the server connection and the listener rather than leave them running.
    awareness.off('change', copyLocal);
    peerAwareness.destroy();
    await server.destroy();
    throw err;
  }
  return {
    doc,
    server,
    peers,
    awareness,
    peerAwareness,
    states: () => new Map([...peerAwareness.getStates(), ...awareness.getStates()]) as Map<number, Record<string, unknown>>,
    async destroy() {
      awareness.off('change', copyLocal);
      peers.destroy();
      peerAwareness.destroy();
      await server.destroy();
    },
  };
}
