/**
 * Creating or updating the JetStream stream that holds an event store: file storage (an
 * ack then means written to disk on every replica in the quorum), the requested replicas,
 * one wildcard subject over all store streams, limits retention with nothing ever expired
 * (the log is the truth), and the duplicate window used for `Nats-Msg-Id`.
 */
import {
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  type JetStreamManager,
  type StreamConfig,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';

export interface StreamSpec {
  name: string;
  subject: string;
  replicas: number;
  duplicateWindowMs: number;
}

export async function ensureStream(jsm: JetStreamManager, spec: StreamSpec): Promise<void> {
  const wanted: Partial<StreamConfig> & { name: string } = {
    name: spec.name,
    subjects: [spec.subject],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    num_replicas: spec.replicas,
    duplicate_window: nanos(spec.duplicateWindowMs),
    // Lets the tip lookups and KV-free reads be served by any replica when we choose to.
    allow_direct: true,
  };
  let current: StreamConfig;
  try {
    current = (await jsm.streams.info(spec.name)).config;
  } catch (err) {
    if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) {
      await jsm.streams.add(wanted);
      return;
    }
    throw err;
  }
  const differs =
    current.num_replicas !== spec.replicas ||
    current.duplicate_window !== wanted.duplicate_window ||
    !current.subjects?.includes(spec.subject);
  if (differs) {
    await jsm.streams.update(spec.name, {
      subjects: [...new Set([...(current.subjects ?? []), spec.subject])],
      num_replicas: spec.replicas,
      duplicate_window: wanted.duplicate_window!,
    });
  }
}
