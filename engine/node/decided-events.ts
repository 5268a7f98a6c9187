/** What appending decided events needs and gives back, shared by the ordinary and the urgent path. */
import type { AppendOptions, EventStore, IdempotencyRecord, StoredEvent } from '../store/index.js';
import type { ConversationStates } from './conversation-states.js';
import type { Metrics } from './metrics.js';

/** An event a decider produced, before it gets an id and metadata. */
export interface DecidedEvent {
  type: string;
  data: unknown;
}

export interface AppendMeta {
  actor: string;
  commandId: string;
  correlationId: string;
}

/** How a command's events are keyed, and how to tell that it ran before. */
export interface CommandIdempotency {
  /** The command's type, for the conflict metric. */
  label: string;
  /** Retry at once, with a private state caught up incrementally (see urgent-append.ts). */
  urgent: boolean;
  /** The record of the command, given the version its events take the conversation to. */
  recordOf: (version: number, decided: DecidedEvent[]) => IdempotencyRecord;
  /** Looked up by the store with the record's key: see legacyKey(). */
  legacyKey: string | undefined;
  /** The key's record, if the command ran before: asked after a conflict, before deciding again. */
  findPrior: () => Promise<IdempotencyRecord | undefined>;
}

export interface Appended {
  version: number;
  events: StoredEvent[];
  record?: IdempotencyRecord;
  duplicate: IdempotencyRecord | null;
}

/** What an append works with; `wrote` tells the handler what it appended (read-your-writes). */
export interface AppendContext {
  store: EventStore;
  metrics: Metrics;
  states: ConversationStates;
  wrote: (events: StoredEvent[]) => void;
}

/**
 * The options of an append of `decided` on top of version `before`. Built with one shape,
 * optional parts assigned: spreading them in (`...(x && { x })`) took V8's slow path for
 * defining properties on every command.
 */
export function appendOptionsOf(
  before: number,
  decided: readonly DecidedEvent[],
  record: IdempotencyRecord | undefined,
  legacyKey: string | undefined,
  patches: NonNullable<AppendOptions['patches']>,
): AppendOptions {
  // A command that changes nothing still records its id, at no particular version.
  const options: AppendOptions = { expectedVersion: decided.length === 0 ? 'any' : before, idempotency: record };
  if (legacyKey !== undefined) options.legacyKey = legacyKey;
  if (patches.length > 0) options.patches = patches;
  return options;
}

/** The metadata the events of one decision are stamped with (one shape, no spread). */
export function stampedWith(meta: AppendMeta, at: number): AppendMeta & { at: number } {
  return { actor: meta.actor, commandId: meta.commandId, correlationId: meta.correlationId, at };
}
