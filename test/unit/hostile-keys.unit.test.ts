/**
 * Keys chosen by users (emoji, user ids, conversation ids) that name properties every
 * plain object inherits. A `constructor` reaction once took a node down for good: every
 * read model, the decider and the client-lib views must treat these as ordinary keys.
 */
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { decide, evolve, initialState } from '../../engine/domain/index.js';
import type { StoredEvent } from '../../engine/store/index.js';
import type { ConversationEventData, WireEvent } from '../../protocol/index.js';
import {
  analyticsReport,
  builtInProjections,
  conversationsOf,
  isMember,
  membersOf,
  presenceOf,
  readMessages,
  searchMessages,
} from '../../projections/index.js';
import { applyEvent, mergeHistory, viewOf, type Message } from '../../client-lib/messages.js';
import { localIdFor } from '../../client-lib/ids.js';
import { Outbox } from '../../client-lib/outbox.js';
import { PresenceBook } from '../../client-lib/presence.js';
import { MemoryStorage } from '../../client-lib/storage.js';
import type { HttpApi } from '../../client-lib/http.js';

const HOSTILE = ['constructor', '__proto__', 'valueOf', 'toString', 'hasOwnProperty', 'isPrototypeOf', '__defineGetter__', 'prototype'];

let position = 0;
function stored(stream: string, type: string, data: object, actor = 'alice'): StoredEvent {
  position += 1;
  return {
    stream,
    seq: position,
    position,
    id: `e${position}`,
    type,
    data,
    metadata: { actor, commandId: `c${position}`, correlationId: 'x', at: Date.UTC(2026, 10, 29, 12), schemaVersion: type === 'MessagePosted' ? 2 : 1 },
  };
}

/** Runs every built-in projection over `events` in a fresh in-memory read-model database. */
function project(events: StoredEvent[]): Database.Database {
  const db = new Database(':memory:');
  for (const p of builtInProjections()) {
    p.setup(db);
    db.transaction(() => p.handle(events.filter((e) => p.handles.includes(e.type)), db))();
  }
  return db;
}

describe('read models with hostile keys', () => {
  it.each(HOSTILE)('handles the key %s as an emoji, a user id and a conversation id', (key) => {
    const conv = `conversation-${key}`;
    const events = [
      stored(conv, 'ConversationCreated', { title: key, createdBy: 'alice', members: ['alice', key] }),
      stored(conv, 'MessagePosted', { messageId: 'm1', author: 'alice', text: `hello ${key}`, format: 'plain' }),
      stored(conv, 'ReactionAdded', { messageId: 'm1', userId: key, emoji: key }, key),
      stored(conv, 'ReactionAdded', { messageId: 'm1', userId: 'alice', emoji: key }),
      stored(conv, 'ReactionAdded', { messageId: 'm1', userId: 'alice', emoji: '👍' }),
      stored(conv, 'ReactionRemoved', { messageId: 'm1', userId: key, emoji: key }, key),
      stored(conv, 'MessagePosted', { messageId: 'm2', author: key, text: 'second', format: 'plain' }, key),
      stored(conv, 'ReactionAdded', { messageId: 'm2', userId: 'alice', emoji: key }),
      stored(conv, 'ReactionRemoved', { messageId: 'm2', userId: 'alice', emoji: key }),
      stored(conv, 'ReadMarkerSet', { userId: key, seq: 1 }, key),
    ];
    const lastSeq = position;
    events.push(
      stored(`node-${key}`, 'UserOnline', { userId: key, nodeId: key }, 'system'),
    );
    const db = project(events);

    const [m1, m2] = readMessages(db, key, { limit: 10 });
    expect(JSON.stringify(m1!.reactions)).toBe(JSON.stringify({ [key]: ['alice'], '👍': ['alice'] }));
    expect(Object.keys(m1!.reactions)).toEqual([key, '👍']);
    expect(Object.hasOwn(m1!.reactions, key)).toBe(true);
    expect(Object.getPrototypeOf(m1!.reactions)).toBe(Object.prototype); // the prototype was not replaced
    expect(JSON.stringify(m2!.reactions)).toBe('{}');
    expect(m2!.author).toBe(key);

    expect(membersOf(db, key)).toEqual([key, 'alice'].sort());
    expect(isMember(db, key, key)).toBe(true);
    const [summary] = conversationsOf(db, key);
    expect(summary).toMatchObject({ id: key, title: key, readSeq: 1, unread: 1, lastSeq }) // m1 by alice is unread;

    expect(analyticsReport(db).reactionsByEmoji).toContainEqual({ emoji: key, count: 1 });
    expect(presenceOf(db, [key])).toEqual([{ userId: key, online: true, lastSeen: null }]);
    expect(searchMessages(db, key, key).map((h) => h.messageId)).toEqual(['m1']);
    db.close();
  });

  it('lets the decider add and remove every hostile reaction', () => {
    const state = initialState();
    const ctx = { actor: 'alice', newId: () => 'm1', now: 0 };
    const apply = (events: ConversationEventData[]) => events.forEach((e) => evolve(state, e));
    apply(decide({ type: 'CreateConversation', title: 't', members: [] }, state, ctx));
    apply(decide({ type: 'PostMessage', text: 'hi' }, state, ctx));
    for (const key of HOSTILE) {
      expect(decide({ type: 'AddReaction', messageId: 'm1', emoji: key }, state, ctx)).toHaveLength(1);
      apply(decide({ type: 'AddReaction', messageId: 'm1', emoji: key }, state, ctx));
      expect(decide({ type: 'AddReaction', messageId: 'm1', emoji: key }, state, ctx)).toEqual([]); // already there
      expect(decide({ type: 'RemoveReaction', messageId: 'm1', emoji: key }, state, ctx)).toHaveLength(1);
    }
  });
});

describe('client-lib with hostile keys', () => {
  const wire = (seq: number, type: string, data: object, actor = 'bob'): WireEvent =>
    ({ conversationId: 'c', seq, position: seq, id: `e${seq}`, type, data, actor, at: 1000 + seq, commandId: `c${seq}` }) as WireEvent;

  it.each(HOSTILE)('applies, views and serializes reactions with the emoji %s', (key) => {
    let m: Message[] = applyEvent([], wire(1, 'MessagePosted', { messageId: 'm1', author: 'bob', text: 'hi', format: 'plain' }));
    m = applyEvent(m, wire(2, 'ReactionAdded', { messageId: 'm1', userId: 'bob', emoji: '👍' }));
    m = applyEvent(m, wire(3, 'ReactionAdded', { messageId: 'm1', userId: 'bob', emoji: key }));
    m = applyEvent(m, wire(3, 'ReactionAdded', { messageId: 'm1', userId: 'bob', emoji: key })); // replayed
    m = applyEvent(m, wire(4, 'ReactionAdded', { messageId: 'm1', userId: 'carol', emoji: key }, 'carol'));
    expect(JSON.stringify(m[0]!.reactions)).toBe(JSON.stringify({ '👍': ['bob'], [key]: ['bob', 'carol'] }));

    // The optimistic view: a pending reaction of this user with the same emoji, and a pending removal.
    const other = key === 'toString' ? 'valueOf' : 'toString';
    const pending = [
      { id: 'p1', command: { type: 'RemoveReaction' as const, conversationId: 'c', messageId: 'm1', emoji: key }, createdAt: 5 },
      { id: 'p2', command: { type: 'AddReaction' as const, conversationId: 'c', messageId: 'm1', emoji: other }, createdAt: 6 },
    ];
    const [v] = viewOf(m, pending, 'bob', (id) => id);
    expect(JSON.stringify(v!.reactions)).toBe(JSON.stringify({ '👍': ['bob'], [key]: ['carol'], [other]: ['bob'] }));
    expect(v!.pending).toBe(true);

    m = applyEvent(m, wire(5, 'ReactionRemoved', { messageId: 'm1', userId: 'bob', emoji: key }));
    m = applyEvent(m, wire(6, 'ReactionRemoved', { messageId: 'm1', userId: 'carol', emoji: key }, 'carol'));
    expect(JSON.stringify(m[0]!.reactions)).toBe(JSON.stringify({ '👍': ['bob'] }));
    expect(Object.hasOwn(m[0]!.reactions, key)).toBe(false);
  });

  it.each(HOSTILE)('merges a history page whose reactions carry the emoji %s, then reacts on it', (key) => {
    // As it arrives over HTTP: JSON.parse makes `__proto__` an own key.
    const page = JSON.parse(
      JSON.stringify([{ seq: 1, messageId: 'm1', author: 'bob', text: 'a', format: 'plain', sentAt: new Date(0).toISOString(), reactions: { [key]: ['x'] }, deleted: false }]),
    );
    let m = mergeHistory([], page);
    m = applyEvent(m, wire(2, 'ReactionAdded', { messageId: 'm1', userId: 'y', emoji: key }));
    expect(JSON.stringify(m[0]!.reactions)).toBe(JSON.stringify({ [key]: ['x', 'y'] }));
    m = applyEvent(m, wire(3, 'MessageDeleted', { messageId: 'm1' }));
    expect(JSON.stringify(m[0]!.reactions)).toBe('{}');
  });

  it('keeps presence of users named like inherited properties, and unknown ones absent', async () => {
    const http = { presence: async () => HOSTILE.map((userId) => ({ userId, online: false, lastSeen: 7 })) } as unknown as HttpApi;
    const book = new PresenceBook(http);
    expect(book.people.get()['constructor']).toBeUndefined();
    await book.seed('c');
    book.onFrame({ type: 'presence', userId: '__proto__', online: true, lastSeen: null } as never);
    const people = book.people.get();
    for (const key of HOSTILE) expect(people[key]).toEqual(key === '__proto__' ? { online: true, lastSeen: null } : { online: false, lastSeen: 7 });
    expect(Object.keys(people).sort()).toEqual([...HOSTILE].sort());
    expect(people['someone-else']).toBeUndefined();
  });

  it('resolves local ids in the outbox without consulting inherited properties', async () => {
    const storage = new MemoryStorage();
    const outbox = new Outbox(storage);
    await outbox.load();
    expect(outbox.resolve(localIdFor('constructor'))).toBeUndefined();
    await outbox.add({ id: 'constructor', command: { type: 'CreateConversation', title: 't', members: [] }, createdAt: 1 });
    await outbox.settle('constructor', { conversationId: 'c1' } as never);
    expect(outbox.resolve(localIdFor('constructor'))).toBe('c1');
    const again = new Outbox(storage);
    await again.load();
    expect(again.resolve(localIdFor('constructor'))).toBe('c1');
  });
});
