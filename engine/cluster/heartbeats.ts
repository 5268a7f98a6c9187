/**
 * Presence heartbeats over core NATS (no JetStream, nothing stored): every node publishes
 * `{nodeId, incarnation, seq, at}` on `parley.cluster.<stream>.heartbeat` every H seconds
 * and listens on the same subject, so it hears every peer — and itself.
 *
 * A peer is *down* once nothing was heard from it for the expiry E (minus one sweep, so
 * that "down" is noticed within E of its last heartbeat). Nodes never heard from since
 * this node started (they hold sessions in the read model, e.g. from before a crash)
 * count from this node's start.
 *
 * Judging needs a working connection: hearing nobody because *we* are cut off from NATS
 * must not declare everyone dead. So a node judges only while its own heartbeats come
 * back to it, and after a gap in its own echo, it counts every peer's silence afresh from
 * the moment the echo returned.
 *
 * A peer that said goodbye wrote its users' offline events before it did, but they reach
 * our read models a little later (live read models are applied in gathered batches on
 * their own thread): it is judged only after LEFT_GRACE_EXPIRIES expiries, and forgotten as
 * soon as our read models show it holds no sessions. CI saw a read model take over a
 * second, and a clean leave recorded as a death.
 */
import type { NatsConnection, Subscription } from '@nats-io/transport-node';

export interface Heartbeat {
  nodeId: string;
  /** Random per process start: a restarted node is a new incarnation. */
  incarnation: string;
  seq: number;
  /** Sender's clock, for diagnostics only: silence is measured on the receiver's clock. */
  at: number;
  /** Sent once by a node that shuts down cleanly. */
  bye?: boolean;
}

export interface HeartbeatOptions {
  nc: NatsConnection;
  subject: string;
  nodeId: string;
  incarnation: string;
  intervalMs: number;
  expiryMs: number;
  /** Nodes that matter besides the peers heard of (those holding sessions). */
  candidates(): string[];
  onDown(nodeId: string, lastHeardAt: number): void;
  onUp(nodeId: string): void;
  onHeartbeat?(from: Heartbeat): void;
  /** A sweep or a heard heartbeat failed (a read model unreadable, a listener threw); the timers go on. */
  onError?(err: unknown): void;
}

/** How many expiries a peer that said goodbye has for its offline events to reach our read models. */
const LEFT_GRACE_EXPIRIES = 5;

interface Peer {
  lastHeardAt: number;
  incarnation: string;
  /** Said goodbye: not alive, and forgotten once it holds no sessions any more. */
  left?: boolean;
}

export class Heartbeats {
  private readonly peers = new Map<string, Peer>();
  private readonly down = new Set<string>();
  private readonly startedAt = Date.now();
  private subscription: Subscription | undefined;
  private publishTimer: NodeJS.Timeout | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private seq = 0;
  private lastEchoAt = 0;
  /** When our own echo last came back after a gap: silence of others counts from here. */
  private judgingSince = Date.now();
  readonly sweepMs: number;

  constructor(private readonly o: HeartbeatOptions) {
    this.sweepMs = Math.min(o.intervalMs / 2, 500);
  }

  start(): void {
    this.subscription = this.o.nc.subscribe(this.o.subject, {
      callback: (err, msg) => {
        if (err) return;
        let beat: Heartbeat;
        try {
          beat = msg.json<Heartbeat>();
        } catch {
          return; // Not a heartbeat: someone else's message on our subject.
        }
        this.guarded(() => this.heard(beat));
      },
    });
    this.publish();
    this.publishTimer = setInterval(() => this.publish(), this.o.intervalMs);
    // Runs on a timer: a throw here would be uncaught and end the process.
    this.sweepTimer = setInterval(() => this.guarded(() => this.sweep()), this.sweepMs);
    this.publishTimer.unref();
    this.sweepTimer.unref();
  }

  /** Peers heard within the expiry, this node included. */
  get alive(): string[] {
    const now = Date.now();
    const ids = [...this.peers].filter(([, p]) => !p.left && now - p.lastHeardAt < this.o.expiryMs).map(([id]) => id);
    return ids.includes(this.o.nodeId) ? ids : [...ids, this.o.nodeId];
  }

  isDown(nodeId: string): boolean {
    return this.down.has(nodeId);
  }

  /** Says goodbye (peers forget this node at once) and stops. */
  async stop(): Promise<void> {
    clearInterval(this.publishTimer);
    clearInterval(this.sweepTimer);
    try {
      this.send({ bye: true });
      // flush() waits for a reconnect when NATS is away; do not hold a shutdown for it.
      await Promise.race([this.o.nc.flush(), new Promise((r) => setTimeout(r, 1000).unref())]);
    } catch {
      // Closing while NATS is away: peers will let this node expire instead.
    }
    this.subscription?.unsubscribe();
  }

  private guarded(work: () => void): void {
    try {
      work();
    } catch (err) {
      this.o.onError?.(err);
    }
  }

  private publish(): void {
    try {
      this.send({});
    } catch {
      // Disconnected: the client buffers or drops; peers judge by silence either way.
    }
  }

  private send(extra: Partial<Heartbeat>): void {
    const beat: Heartbeat = { nodeId: this.o.nodeId, incarnation: this.o.incarnation, seq: ++this.seq, at: Date.now(), ...extra };
    this.o.nc.publish(this.o.subject, JSON.stringify(beat));
  }

  private heard(beat: Heartbeat): void {
    if (typeof beat?.nodeId !== 'string') return;
    const now = Date.now();
    this.o.onHeartbeat?.(beat);
    if (beat.nodeId === this.o.nodeId) {
      if (now - this.lastEchoAt > this.o.expiryMs) this.judgingSince = now;
      this.lastEchoAt = now;
      return;
    }
    // A goodbye counts as a last heartbeat: the node's offline events are in the log but
    // may not have reached our read models yet, so it is not judged before the expiry.
    this.peers.set(beat.nodeId, { lastHeardAt: now, incarnation: beat.incarnation, left: beat.bye === true });
    if (beat.bye) return;
    if (this.down.delete(beat.nodeId)) this.o.onUp(beat.nodeId);
  }

  private sweep(): void {
    const now = Date.now();
    // Our own heartbeats do not come back: we are the one cut off; judge nobody.
    if (now - this.lastEchoAt > this.o.expiryMs) return;
    const threshold = this.o.expiryMs - this.sweepMs;
    const leftThreshold = this.o.expiryMs * LEFT_GRACE_EXPIRIES - this.sweepMs;
    const candidates = new Set(this.o.candidates());
    const ids = new Set([...this.peers.keys(), ...candidates]);
    ids.delete(this.o.nodeId);
    for (const id of ids) {
      const peer = this.peers.get(id);
      if (peer?.left && !candidates.has(id)) {
        this.peers.delete(id); // left cleanly, holds nothing: forget it
        this.down.delete(id);
        continue;
      }
      if (this.down.has(id)) continue;
      const heard = peer?.lastHeardAt;
      const since = Math.max(heard ?? this.startedAt, this.judgingSince);
      if (now - since > (peer?.left ? leftThreshold : threshold)) {
        this.down.add(id);
        this.o.onDown(id, heard ?? since);
      }
    }
  }
}
