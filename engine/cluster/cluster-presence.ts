/**
 * Global, crash-safe presence on nats-server 2.9 (which has no per-key TTL to let a dead
 * node's entries vanish by themselves).
 *
 * Sessions are facts of the log (`UserOnline`/`UserOffline` per node, see the gateway).
 * Liveness is not: it comes from heartbeats (heartbeats.ts). When a peer goes silent for
 * the expiry, every surviving node
 * 1. at once stops counting that node's sessions when it answers presence (the read
 *    model's `nodeLiveness`) and pushes `presence` offline frames for its users;
 * 2. records `NodeExpired {nodeId, lastHeardAt}` on the dead node's stream, so the fact
 *    reaches rebuilt read models and nodes that start later. Several survivors race to
 *    record it; the append states the node stream's version it saw and carries the
 *    idempotency key `node-expired:<node>:<version>`, so exactly one wins (the others get
 *    a conflict or the duplicate) and a later death of the same node gets a fresh key.
 *
 * A node that comes back: its heartbeats resume, so peers count its sessions again at
 * once; when it sees `NodeExpired` about itself in the feed it appends `NodeResumed`,
 * which undoes the expiry in every read model. A node that restarted appends
 * `NodeStarted`, which drops whatever it held before.
 */
import type Database from 'better-sqlite3';
import type { FastifyBaseLogger } from 'fastify';
import { toNewEvents } from '../domain/index.js';
import { isConcurrencyError, nodeStream, type EventStore, type StoredEvent } from '../store/index.js';
import { asKnown, isNodeExpired, nodeLiveness, nodesWithSessions } from '../../projections/index.js';
import { Heartbeats, type Heartbeat, type HeartbeatOptions } from './heartbeats.js';

export interface ClusterPresenceOptions {
  nodeId: string;
  incarnation: string;
  store: EventStore;
  readModels: Database.Database;
  heartbeat: Pick<HeartbeatOptions, 'nc' | 'subject' | 'intervalMs' | 'expiryMs'>;
  /** Told when a node's users may have changed online state (fan-out pushes frames). */
  onNodeChanged(nodeId: string): void;
  onHeartbeat?(from: Heartbeat): void;
  onExpired?(nodeId: string): void;
  log: FastifyBaseLogger;
}

export class ClusterPresence {
  readonly heartbeats: Heartbeats;
  private readonly liveness: ReturnType<typeof nodeLiveness>;
  private readonly unsubscribe: () => void;
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  private stopped = false;

  constructor(private readonly o: ClusterPresenceOptions) {
    this.liveness = nodeLiveness(o.readModels);
    this.heartbeats = new Heartbeats({
      ...o.heartbeat,
      nodeId: o.nodeId,
      incarnation: o.incarnation,
      candidates: () => nodesWithSessions(o.readModels),
      onDown: (id, lastHeardAt) => this.down(id, lastHeardAt),
      onUp: (id) => this.up(id),
      onHeartbeat: o.onHeartbeat,
      onError: (err) => o.log.error({ err }, 'presence heartbeats: a sweep failed; retrying on the next one'),
    });
    this.unsubscribe = o.store.subscribe((events) => this.watch(events));
  }

  start(): void {
    this.heartbeats.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.retryTimers) clearTimeout(t);
    this.unsubscribe();
    await this.heartbeats.stop();
  }

  private down(nodeId: string, lastHeardAt: number): void {
    this.o.onExpired?.(nodeId);
    this.o.log.warn({ peer: nodeId, lastHeardAt }, 'peer node stopped sending heartbeats: its users are offline');
    this.liveness.markDown(nodeId, lastHeardAt);
    this.o.onNodeChanged(nodeId);
    this.expire(nodeId, lastHeardAt);
  }

  private expire(nodeId: string, lastHeardAt: number): void {
    this.recordExpiry(nodeId, lastHeardAt).catch((err: unknown) => this.o.log.error({ err, peer: nodeId }, 'could not record the expiry of a node'));
  }

  private up(nodeId: string): void {
    this.o.log.info({ peer: nodeId }, 'peer node is back');
    this.liveness.markUp(nodeId);
    this.o.onNodeChanged(nodeId);
  }

  /** Appends NodeExpired once across all survivors; retried while the node stays down. */
  private async recordExpiry(nodeId: string, lastHeardAt: number): Promise<void> {
    if (this.stopped || !this.heartbeats.isDown(nodeId) || isNodeExpired(this.o.readModels, nodeId)) return;
    const stream = nodeStream(nodeId);
    try {
      const version = await this.o.store.streamVersion(stream);
      const [last] = version > 0 ? await this.o.store.readStream(stream, { beforeSeq: version + 1, limit: 1 }) : [];
      if (last?.type === 'NodeExpired') return; // recorded; our read model will get there
      const key = `node-expired:${nodeId}:${version}`;
      const events = toNewEvents([{ type: 'NodeExpired', data: { nodeId, lastHeardAt, reportedBy: this.o.nodeId } }], {
        actor: 'system',
        commandId: key,
      });
      await this.o.store.append(stream, events, {
        expectedVersion: version,
        idempotency: { key, fingerprint: 'node-expired', result: { nodeId } },
      });
    } catch (err) {
      if (isConcurrencyError(err)) return; // another survivor recorded it first (or the node restarted)
      this.o.log.warn({ err, peer: nodeId }, 'could not record the expiry of a node; retrying');
      const timer = setTimeout(() => {
        this.retryTimers.delete(timer);
        this.expire(nodeId, lastHeardAt);
      }, this.o.heartbeat.intervalMs);
      timer.unref();
      this.retryTimers.add(timer);
    }
  }

  /** Someone declared this node dead while it was only cut off: say it is back. */
  private watch(events: StoredEvent[]): void {
    for (const stored of events) {
      const e = asKnown(stored);
      if (e.type !== 'NodeExpired' || e.data?.nodeId !== this.o.nodeId || this.stopped) continue;
      this.o.log.warn({ reportedBy: e.data.reportedBy }, 'this node was declared dead by a peer; resuming');
      this.resumeLogged();
    }
  }

  private resumeLogged(attempt = 0): void {
    this.resume(attempt).catch((err: unknown) => this.o.log.error({ err }, 'could not record that this node resumed'));
  }

  private async resume(attempt = 0): Promise<void> {
    const events = toNewEvents([{ type: 'NodeResumed', data: { nodeId: this.o.nodeId } }], {
      actor: 'system',
      commandId: `resume-${this.o.incarnation}-${Date.now()}`,
    });
    try {
      await this.o.store.append(nodeStream(this.o.nodeId), events, { expectedVersion: 'any' });
    } catch (err) {
      if (this.stopped || attempt > 20) return void this.o.log.error({ err }, 'could not record that this node resumed');
      const timer = setTimeout(() => {
        this.retryTimers.delete(timer);
        this.resumeLogged(attempt + 1);
      }, this.o.heartbeat.intervalMs);
      timer.unref();
      this.retryTimers.add(timer);
    }
  }
}
