/**
 * The delivery lease and the endpoints' cursors, in the log: the newest event of the
 * `webhooks-delivery` stream says which node delivers until when, and how far each
 * endpoint got. Every write states the stream version it read (the store's compare-and-
 * swap), so of two nodes racing for an expired lease one wins, and a holder that was
 * replaced finds out at its next write (the version moved) and stops: a fencing token.
 * A holder that cannot write stops by itself once its lease ran out.
 *
 * A cursor is stored as projection checkpoints are (projections/stored-checkpoint.ts): on
 * an unpartitioned log the position delivered up to, on a partitioned one the log cursor's
 * token (one entry per partition). The lane reads it for the log it runs on (lane-start.ts).
 */
import { toNewEvents } from '../../domain/index.js';
import { isConcurrencyError, type EventStore } from '../../store/index.js';

export const DELIVERY_STREAM = 'webhooks-delivery';

/** A lane's cursor as the log keeps it: a position (one partition) or a cursor token. */
export type StoredLaneCursor = number | string;
/** Longer than any cursor token (log-cursor.ts bounds them at 2048): anything longer is not one. */
const MAX_TOKEN_LENGTH = 4096;

export interface Checkpoint {
  version: number;
  nodeId: string;
  leaseUntil: number;
  cursors: Map<string, StoredLaneCursor>;
}

export async function readCheckpoint(store: EventStore): Promise<Checkpoint> {
  const version = await store.streamVersion(DELIVERY_STREAM);
  const cursors = new Map<string, StoredLaneCursor>();
  if (version === 0) return { version, nodeId: '', leaseUntil: 0, cursors };
  const [last] = await store.readStream(DELIVERY_STREAM, { beforeSeq: version + 1, limit: 1 });
  const data = last?.data as { nodeId?: unknown; leaseUntil?: unknown; cursors?: unknown } | undefined;
  for (const [id, pos] of Object.entries((data?.cursors ?? {}) as Record<string, unknown>)) if (typeof pos === 'number' || (typeof pos === 'string' && pos.length <= MAX_TOKEN_LENGTH)) cursors.set(id, pos);
  return {
    version: last?.seq ?? version,
    nodeId: typeof data?.nodeId === 'string' ? data.nodeId : '',
    leaseUntil: typeof data?.leaseUntil === 'number' ? data.leaseUntil : 0,
    cursors,
  };
}

export class DeliveryLease {
  holding = false;
  /** Cursors as last read or as advanced by this holder. */
  readonly cursors = new Map<string, StoredLaneCursor>();
  /** The cursors the log has (what a successor would start from). */
  readonly committed = new Map<string, StoredLaneCursor>();
  private version = 0;
  private leaseUntil = 0;

  constructor(
    private readonly store: EventStore,
    private readonly nodeId: string,
    private readonly leaseMs: number,
  ) {}

  /**
   * Renews the lease (writing the cursors), or takes it when it ran out or was this
   * node's before a restart. Resolves to whether this node holds it now.
   */
  async renew(now = Date.now()): Promise<boolean> {
    if (!this.holding) {
      const cp = await readCheckpoint(this.store);
      if (cp.leaseUntil > now && cp.nodeId !== this.nodeId) return false;
      this.version = cp.version;
      this.cursors.clear();
      this.committed.clear();
      for (const [id, pos] of cp.cursors) this.cursors.set(id, pos);
    }
    try {
      await this.write(now + this.leaseMs);
      this.holding = true;
    } catch (err) {
      if (isConcurrencyError(err) || Date.now() >= this.leaseUntil) this.holding = false;
      if (!isConcurrencyError(err)) throw err;
    }
    return this.holding;
  }

  /** Gives the lease up (a clean stop), so another node need not wait for it to run out. */
  async release(): Promise<void> {
    if (!this.holding) return;
    this.holding = false;
    await this.write(0).catch(() => undefined);
  }

  forget(webhookId: string): void {
    this.cursors.delete(webhookId);
  }

  private async write(leaseUntil: number): Promise<void> {
    const cursors: Record<string, StoredLaneCursor> = Object.create(null);
    const snapshot = new Map(this.cursors);
    for (const [id, pos] of snapshot) cursors[id] = pos;
    const events = toNewEvents([{ type: 'WebhookDeliveryCheckpoint', data: { nodeId: this.nodeId, leaseUntil, cursors } }], {
      actor: 'system',
      commandId: `webhooks-${this.nodeId}-${Date.now()}`,
    });
    const result = await this.store.append(DELIVERY_STREAM, events, { expectedVersion: this.version });
    this.version = result.version;
    this.leaseUntil = leaseUntil;
    this.committed.clear();
    for (const [id, pos] of snapshot) this.committed.set(id, pos);
  }
}
