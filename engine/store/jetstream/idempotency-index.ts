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
 * A crash between the PubAck and the KV write would lose the index entry while the log
 * has the key. Three things cover that: inside the duplicate window the server itself
 * de-duplicates; a repeat at a stale version finds the key in the stream's newer envelopes
 * (stream-appender.ts) and writes the entry back; and index-repair.ts re-indexes every
 * keyed envelope after a shared checkpoint, on connect and periodically, within the
 * duplicate window.
 */
import { createHash } from 'node:crypto';
import type { KV } from '@nats-io/kv';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { BoundedMap } from '../bounded-map.js';
import type { IdempotencyRecord } from '../port.js';

interface IndexEntry extends IdempotencyRecord {
  stream: string;
  jetstreamSeq: number;
}

/** Not a hex digest, so it never collides with an entry. */
const CHECKPOINT = 'checkpoint';

/** A key's entry name: keys are arbitrary strings, KV keys are not. */
export function indexKeyOf(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export class IdempotencyIndex {
  // Recently seen records, so a retry storm does not hit the KV for every attempt.
  private readonly recent: BoundedMap<string, IdempotencyRecord>;

  private constructor(private readonly kv: KV, recentMax: number) {
    this.recent = new BoundedMap(recentMax);
  }

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
    const entry: IndexEntry = { ...record, stream, jetstreamSeq };
    await this.kv.put(indexKeyOf(record.key), JSON.stringify(entry));
    // Cached only once stored, so the cache never hides a missing entry from repairs.
    this.remember(record);
  }

  /** Every keyed envelope up to this JetStream sequence is known to be in the index. */
  async checkpoint(): Promise<number> {
    const entry = await this.kv.get(CHECKPOINT);
    return entry && entry.operation === 'PUT' ? Number(entry.string()) || 0 : 0;
  }

  /** Moves the checkpoint forward (never back), racing other nodes by compare-and-set. */
  async advanceCheckpoint(seq: number): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const entry = await this.kv.get(CHECKPOINT);
      const current = entry && entry.operation === 'PUT' ? Number(entry.string()) || 0 : 0;
      if (current >= seq) return;
      try {
        if (entry) await this.kv.update(CHECKPOINT, String(seq), entry.revision);
        else await this.kv.create(CHECKPOINT, String(seq));
        return;
      } catch {
        // Another node moved it meanwhile: read again and compare.
      }
    }
  }

  remember(record: IdempotencyRecord): void {
    this.recent.set(record.key, record);
  }
}
