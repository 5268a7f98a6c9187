/**
 * Fan-out: the node reads the feed once and hands each conversation's events of a
 * committed batch to the subscriptions of that conversation, serialized once, as runs of
 * consecutive seqs: a socket gets a run in one frame (and one write), not one per event.
 * A run ends at a `MemberLeft`, so the user who left gets that event and nothing after it.
 * Typing is relayed here too, and presence changes go to every socket that shares a
 * conversation with the user — including the users of a node that went silent or came back (cluster presence).
 */
import type Database from 'better-sqlite3';
import { asKnown, conversationIdsOf, hasSessions, presenceOf, usersOnNode } from '../../projections/index.js';
import type { StoredEvent } from '../store/index.js';
import { conversationIdOf } from '../store/index.js';
import { EncodedFrame } from './encoded-frame.js';
import { frame, LiveRun } from './frames.js';
import type { Metrics } from './metrics.js';

// NodeStarted too: a restarted node's sessions are gone, and with them what was kept for its users.
const PRESENCE_TYPES = new Set(['UserOnline', 'UserOffline', 'NodeStarted', 'NodeExpired', 'NodeResumed']);

/** A socket that live events are delivered to (a WebSocket session). */
export interface Recipient {
  readonly userId: string;
  /** The live events of one commit for a conversation it follows. */
  offer(run: LiveRun): void;
  /** Its user left (or was removed from) a conversation at `seq`: no more of its events. */
  memberLeft(conversationId: string, seq: number): void;
  /** A frame that may be dropped when the socket is congested (typing, presence). */
  sendEphemeral(f: string | EncodedFrame): void;
  send(f: string | EncodedFrame): void;
}

export class FanOut {
  private readonly byConversation = new Map<string, Set<Recipient>>();
  /**
   * Whether each user was last announced online, so a node's coming and going is told once.
   * Only a node's coming or going reads it, and only for users holding a session on that
   * node; so a user with no session anywhere is dropped (their next UserOnline is told
   * regardless). It holds at most the users with a session in the presence read model, not
   * every user the node ever saw.
   */
  private readonly announced = new Map<string, boolean>();

  constructor(
    private readonly readModels: Database.Database,
    private readonly metrics: Metrics,
    /** Resolves once the read models include the log up to a position. */
    private readonly readModelsAt: (position: number) => Promise<void>,
  ) {}

  /** Where failures off the request path are reported; the node gives its log. */
  private onError: (err: unknown, message: string) => void = (err, message) => console.error(message, err);

  reportErrorsTo(log: { error(obj: object, message: string): void }): void {
    this.onError = (err, message) => log.error({ err }, message);
  }

  add(conversationId: string, session: Recipient): void {
    let set = this.byConversation.get(conversationId);
    if (!set) this.byConversation.set(conversationId, (set = new Set()));
    set.add(session);
  }

  remove(conversationId: string, session: Recipient): void {
    const set = this.byConversation.get(conversationId);
    if (!set) return;
    set.delete(session);
    if (set.size === 0) this.byConversation.delete(conversationId);
  }

  /**
   * Called with each committed batch from the feed. Conversation events go out at once;
   * presence changes once the read models include them (they decide who is online).
   */
  deliver(events: StoredEvent[]): void {
    const presence: StoredEvent[] = [];
    // Each conversation's events in this batch, in feed order, cut into runs of consecutive seqs.
    let runs: Map<string, StoredEvent[][]> | undefined;
    for (const e of events) {
      const conversationId = conversationIdOf(e.stream);
      if (conversationId) {
        if (!this.byConversation.has(conversationId)) continue;
        runs ??= new Map();
        let list = runs.get(conversationId);
        if (!list) runs.set(conversationId, (list = []));
        const last = list[list.length - 1];
        const prev = last?.[last.length - 1];
        if (prev && prev.seq + 1 === e.seq && prev.type !== 'MemberLeft') last!.push(e);
        else list.push([e]);
      } else if (PRESENCE_TYPES.has(e.type)) presence.push(e);
    }
    if (runs) for (const [conversationId, list] of runs) for (const run of list) this.deliverToConversation(conversationId, run);
    if (presence.length === 0) return;
    this.readModelsAt(presence[presence.length - 1]!.position).then(
      () => {
        for (const stored of presence) {
          const e = asKnown(stored);
          if (e.type === 'UserOnline' || e.type === 'UserOffline') this.announce(e.data.userId, true);
          else if (e.type === 'NodeStarted' || e.type === 'NodeExpired' || e.type === 'NodeResumed') this.nodePresenceChanged(e.data.nodeId);
          if (e.type === 'NodeStarted') this.forgetUsersWithoutSessions();
        }
      },
      () => undefined, // read models did not catch up in time: the next change announces again
    ).catch((err: unknown) => this.onError(err, 'presence fan-out failed'));
  }

  /**
   * A node went silent or came back (seen by this node's heartbeats, or recorded in the
   * log): tells the sharers of its users whose online state changed.
   */
  nodePresenceChanged(nodeId: string): void {
    for (const userId of usersOnNode(this.readModels, nodeId)) this.announce(userId, false);
  }

  /**
   * A restarted node's sessions are gone from the read model (NodeStarted), so no node's
   * coming or going reaches its former users again: their entries go. Rare (a node start),
   * and one indexed look-up per entry.
   */
  private forgetUsersWithoutSessions(): void {
    for (const userId of this.announced.keys()) if (!hasSessions(this.readModels, userId)) this.announced.delete(userId);
  }

  /** Users whose last announced state is kept (see `announced`); for tests and operators. */
  get usersAnnounced(): number {
    return this.announced.size;
  }

  private deliverToConversation(conversationId: string, events: StoredEvent[]): void {
    const sessions = this.byConversation.get(conversationId);
    if (!sessions) return;
    const run = new LiveRun(conversationId, events);
    const now = Date.now();
    for (const e of events) this.metrics.deliverySeconds.observe(Math.max(0, now - e.metadata.at) / 1000);
    for (const s of sessions) {
      // One socket failing must not keep the events from the others.
      try {
        s.offer(run);
      } catch (err) {
        this.onError(err, 'delivery to a socket failed');
      }
    }
    this.metrics.eventsDelivered.inc(sessions.size * events.length);
    const e = asKnown(events[events.length - 1]!);
    if (e.type === 'MemberLeft') {
      // A user who left stops receiving the conversation, on every socket they have, at
      // once: a catch-up in flight stops too, and never sends what came after.
      for (const s of [...sessions]) if (s.userId === e.data.userId) s.memberLeft(conversationId, e.seq);
    }
  }

  /** Typing is ephemeral: a socket that is not reading misses it rather than buffering it. */
  typing(conversationId: string, from: Recipient): void {
    const sessions = this.byConversation.get(conversationId);
    if (!sessions) return;
    // Built once as bytes for all of them (see LiveRun).
    const f = new EncodedFrame(frame({ type: 'typing', conversationId, userId: from.userId }));
    for (const s of sessions) if (s.userId !== from.userId) s.sendEphemeral(f);
  }

  /** Sends the user's presence to sockets sharing a conversation; `always` or only if online changed. */
  private announce(userId: string, always: boolean): void {
    // The read model already holds this event: it knows whether another node still has the user.
    const [view] = presenceOf(this.readModels, [userId]);
    if (!view) return;
    if (!always && this.announced.get(userId) === view.online) return;
    if (view.online || hasSessions(this.readModels, userId)) this.announced.set(userId, view.online);
    else this.announced.delete(userId);
    const f = new EncodedFrame(frame({ type: 'presence', userId: view.userId, online: view.online, lastSeen: view.lastSeen }));
    const reached = new Set<Recipient>();
    for (const conversationId of conversationIdsOf(this.readModels, userId)) {
      for (const s of this.byConversation.get(conversationId) ?? []) {
        if (!reached.has(s)) {
          reached.add(s);
          s.send(f);
        }
      }
    }
  }
}
