/**
 * Presence facts. A user's first connection to a node and their last disconnection from
 * it are events on the user's stream; a node that starts again declares that everyone it
 * had online before a crash is gone (NodeStarted on the node's stream).
 */
export type PresenceEventData =
  | { type: 'UserOnline'; data: { userId: string; nodeId: string } }
  | { type: 'UserOffline'; data: { userId: string; nodeId: string } }
  | { type: 'NodeStarted'; data: { nodeId: string } };

export type PresenceEventType = PresenceEventData['type'];
