/**
 * Everything one sync client can make a node hold has a bound (DESIGN.md invariant 10).
 *
 * - Pending updates: Yjs keeps an update whose dependencies have not arrived until they do.
 *   A client can send such updates forever (their dependencies need not exist), so they
 *   are held per writer, counted per user (all their sync sockets) and per document, and
 *   past either bound the writer's socket is refused (`limit_exceeded`) and what it set
 *   aside is dropped.
 * - Queued writes: frames received but not yet checked and appended (a slow or unavailable
 *   store), per socket.
 * - Awareness: client ids one socket may announce, and the size of one state.
 * - The send buffer is the node's one for every socket (`maxSendBufferBytes`,
 *   PARLEY_MAX_SEND_BUFFER_BYTES): past it a sync socket is closed as a slow consumer
 *   (4504, transient) and resyncs (step 1/2) when it reconnects.
 *
 * The node's configuration carries these (`NodeConfig.syncLimits`, PARLEY_SYNC_* variables);
 * `syncExtension({ limits })` overrides them for one node. A folder of its own, so the
 * node's configuration takes these defaults without loading Yjs (`parley token` starts fast).
 */
export interface SyncLimits {
  /** Bytes of Yjs updates waiting for missing dependencies, per user across their sockets. */
  pendingBytesPerUser: number;
  /** Updates (frames) waiting for missing dependencies, per user across their sockets. */
  pendingUpdatesPerUser: number;
  /** Bytes of updates waiting for missing dependencies in one document, all writers. */
  pendingBytesPerDocument: number;
  /** Updates waiting for missing dependencies in one document, all writers. */
  pendingUpdatesPerDocument: number;
  /** Bytes of frames one socket may have queued for checking and appending. */
  queuedBytesPerSocket: number;
  /** Awareness client ids one socket may announce in a document. */
  awarenessClientsPerSocket: number;
  /** Largest awareness state (its JSON, in bytes). */
  awarenessStateBytes: number;
}

export const SYNC_LIMITS: Readonly<SyncLimits> = Object.freeze({
  pendingBytesPerUser: 1024 * 1024,
  pendingUpdatesPerUser: 256,
  pendingBytesPerDocument: 4 * 1024 * 1024,
  pendingUpdatesPerDocument: 1024,
  queuedBytesPerSocket: 2 * 1024 * 1024,
  awarenessClientsPerSocket: 8,
  awarenessStateBytes: 8 * 1024,
});

/** Nesting deeper than this in an awareness state is refused: relaying it would recurse that deep. */
export const AWARENESS_MAX_DEPTH = 32;
