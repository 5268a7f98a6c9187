/**
 * What the node serves of the log, for stores that cannot rewrite it. The embedded store
 * rewrites an erased or expired message's events in place (AppendOptions.patches), so its
 * reads are already redacted. JetStream (and EventStoreDB) keep every message as written:
 * there, each content event read for a client — WebSocket catch-up, the admin feed, the
 * webhook lanes — is checked against the read models (history and threads mark a message
 * redacted) and served through `redactEvent`. The live feed needs no check: an event is
 * delivered live before anything can erase it.
 *
 * The read models lag the log a little: a read racing an erasure by milliseconds may
 * still see the content, as a client that was online saw it live.
 */
import { contentMessageId, redactEvent } from '../domain/index.js';
import { conversationIdOf, decorate, readAllAfter, type EventStore, type StoredEvent } from '../store/index.js';

/** Whether the read models hold this message as redacted. */
export type IsRedacted = (conversationId: string, messageId: string) => boolean;

export function withRedactedReads(store: EventStore, isRedacted: IsRedacted): EventStore {
  if (store.kind === 'sqlite') return store;
  const served = (events: StoredEvent[]) => events.map((e) => (mustRedact(e, isRedacted) ? redactEvent(e) : e));
  return decorate(store, {
    readStream: async (stream, options) => served(await store.readStream(stream, options)),
    readAll: async (after, limit) => served(await store.readAll(after, limit)),
  }, {
    readAllAfter: async (after, limit) => served(await readAllAfter(store, after, limit)),
  });
}

function mustRedact(e: StoredEvent, isRedacted: IsRedacted): boolean {
  const messageId = contentMessageId(e);
  if (messageId === undefined || (e.data as { redacted?: boolean }).redacted) return false;
  const conversationId = conversationIdOf(e.stream);
  return conversationId !== undefined && isRedacted(conversationId, messageId);
}
