/**
 * Where idempotency keys are found after the de-duplication window has passed.
 *
 * The envelope is the truth: the record rides in the same message as the events, so it is
 * durable exactly when they are. `Nats-Msg-Id` = the key makes a repeat inside the
 * JetStream duplicate window a no-op on the server. Beyond that window this index answers:
 * a KV bucket (one per event store, same replicas) keyed by the SHA-256 of the key, whose
 * value is the record plus where it lives in the log. It is written after the PubAck and
 * before the append resolves, so a caller that saw "ok" will find the key on any node.
 *
 * Known gap: a crash between the PubAck and the KV write loses the index entry (the log
 * still has it). A repeat inside the duplicate window is still de-duplicated by the
 * server; a repeat at a stale expected version is caught by scanning the stream's newer
 * envelopes (see jetstream-store.ts); a repeat with expectedVersion 'any' after the window
 * would append again. Closing that gap needs a re-index pass from a checkpoint on connect.
 */
import { createHash } from 'node:crypto';
import type { KV } from '@nats-io/kv';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { IdempotencyRecord } from '../port.js';

interface IndexEntry extends IdempotencyRecord {
  stream: string;
  jetstreamSeq: number;
}

/** A key's entry name: keys are arbitrary strings, KV keys are not. */
export function indexKeyOf(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export class IdempotencyIndex {
  // Recently seen records, so a retry storm does not hit the KV for every attempt.
  private readonly recent = new Map<string, IdempotencyRecord>();

  private constructor(private readonly kv: KV, private readonly recentMax: number) {}

  static async open(nc: NatsConnection, bucket: string, replicas: number, timeoutMs: number): Promise<IdempotencyIndex> {
    const kv = await new Kvm(nc).create(bucket, {
      replicas,
      history: 1,
      storage: 'file',
      timeout: timeoutMs,
      // Reads go to the stream leader, so a key written on one node is seen on the next.
      allow_direct: false,
    });
    return new IdempotencyIndex(kv, 10_000);
  }

  async find(key: string): Promise<IdempotencyRecord | undefined> {
    const cached = this.recent.get(key);
    if (cached) return cached;
    const entry = await this.kv.get(indexKeyOf(key));
    if (!entry || entry.operation !== 'PUT' || entry.value.length === 0) return undefined;
    const value = entry.json<IndexEntry>();
    // A SHA-256 collision is not a practical concern, but a mismatch must never be
    // reported as the original command's result.
    if (value.key !== key) return undefined;
    const record = { key: value.key, fingerprint: value.fingerprint, result: value.result };
    this.remember(record);
    return record;
  }

  async record(record: IdempotencyRecord, stream: string, jetstreamSeq: number): Promise<void> {
    this.remember(record);
    const entry: IndexEntry = { ...record, stream, jetstreamSeq };
    await this.kv.put(indexKeyOf(record.key), JSON.stringify(entry));
  }

  remember(record: IdempotencyRecord): void {
    this.recent.set(record.key, record);
    if (this.recent.size > this.recentMax) {
      const oldest = this.recent.keys().next().value;
      if (oldest !== undefined) this.recent.delete(oldest);
    }
  }
}
