/**
 * Presence facts. A user's first connection to a node and their last disconnection from
 * it are events on the user's stream; a node that starts again declares that everyone it
 * had online before a crash is gone (NodeStarted on the node's stream). In a cluster, a
 * node whose heartbeats stopped is declared expired by a survivor (NodeExpired), and
 * declares itself back when it returns (NodeResumed). Their shapes are the protocol's
 * event catalogue (protocol/schema/events.ts).
 */
import type { KnownEvent } from '../../protocol/index.js';

export type PresenceEventData = KnownEvent<'UserOnline' | 'UserOffline' | 'NodeStarted' | 'NodeExpired' | 'NodeResumed'>;

export type PresenceEventType = PresenceEventData['type'];
