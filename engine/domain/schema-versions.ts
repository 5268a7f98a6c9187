/**
 * Every event type's current schema version, and the upcasters that turn older stored
 * shapes into the current one. The log is never rewritten: events are upcast as they are
 * read, so projections, the feed and deciders only ever see current shapes.
 *
 * To change an event's shape: bump its version here, add an upcaster from the previous
 * version, and keep a stored old event in the tests (test/e2e/upcasting.e2e.test.ts).
 */
import type { EventType } from '../../protocol/index.js';
import type { StoredEvent } from '../store/index.js';

/** One entry per type of the protocol's event catalogue: a new event type must say its version. */
export const SCHEMA_VERSIONS: Readonly<Record<EventType, number>> = {
  ConversationCreated: 1,
  MemberJoined: 1,
  MemberLeft: 1,
  // v2 added `format` ('plain' | 'markdown'); v1 messages were all plain text. Optional
  // `threadRootId`, `threadRootAuthor`, `mentions` and `redacted` came later: absent means none.
  MessagePosted: 2,
  MessageDeleted: 1,
  ReactionAdded: 1,
  ReactionRemoved: 1,
  ReadMarkerSet: 1,
  MessageBodyEdited: 1,
  NotesUpdated: 1,
  DraftUpdated: 1,
  UserOnline: 1,
  UserOffline: 1,
  NodeStarted: 1,
  NodeExpired: 1,
  NodeResumed: 1,
  WebhookRegistered: 1,
  WebhookUpdated: 1,
  WebhookRemoved: 1,
  WebhookDeadLettered: 1,
  WebhookRedelivered: 1,
  WebhookDeliveryCheckpoint: 1,
  RoleChanged: 1,
  MemberMuted: 1,
  MemberBanned: 1,
  MemberUnbanned: 1,
  MessageReported: 1,
  MessagePinned: 1,
  MessageUnpinned: 1,
  ReportResolved: 1,
  ThreadFollowed: 1,
  ThreadUnfollowed: 1,
  ThreadReadMarkerSet: 1,
  MentionsReadMarkerSet: 1,
  AttachmentUploaded: 1,
  AttachmentDiscarded: 1,
  RetentionSet: 1,
  MessageErased: 1,
  MessagesExpired: 1,
};

export function schemaVersionOf(type: string): number {
  return Object.hasOwn(SCHEMA_VERSIONS, type) ? SCHEMA_VERSIONS[type as EventType] : 1;
}

type Upcaster = (data: any) => unknown;

/** `${type}@${fromVersion}` → data of version fromVersion + 1 */
const UPCASTERS: Readonly<Record<string, Upcaster>> = {
  'MessagePosted@1': (data) => ({ ...data, format: 'plain' }),
};

/** The event in its type's current shape (the same object when it already is). */
export function upcast(event: StoredEvent): StoredEvent {
  const target = schemaVersionOf(event.type);
  let version = event.metadata.schemaVersion ?? 1;
  if (version >= target) return event;
  let data = event.data;
  while (version < target) {
    const step = UPCASTERS[`${event.type}@${version}`];
    if (!step) throw new Error(`no upcaster for ${event.type} v${version} (position ${event.position})`);
    data = step(data);
    version += 1;
  }
  return { ...event, data, metadata: { ...event.metadata, schemaVersion: version } };
}
