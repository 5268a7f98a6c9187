/**
 * Presence facts. A user's first connection to a node and their last disconnection from
 * it are events on the user's stream; a node that starts again declares that everyone it
 * had online before a crash is gone (NodeStarted on the node's stream). In a cluster, a
 * node whose heartbeats stopped is declared expired by a survivor (NodeExpired), and
 * declares itself back when it returns (NodeResumed).
 */
export type PresenceEventData =
  | { type: 'UserOnline'; data: { userId: string; nodeId: string } }
  | { type: 'UserOffline'; data: { userId: string; nodeId: string } }
  | { type: 'NodeStarted'; data: { nodeId: string } }
  /** A surviving node's record that a peer's heartbeats stopped (cluster presence expiry). */
  | { type: 'NodeExpired'; data: { nodeId: string; lastHeardAt: number; reportedBy: string } }
  /** The expired node is back (its heartbeats resumed); its sessions count again. */
  | { type: 'NodeResumed'; data: { nodeId: string } };

export type PresenceEventType = PresenceEventData['type'];
