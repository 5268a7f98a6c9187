/**
 * The threads and mentions read models over a real SQLite log: commands go through the
 * real decider, their events through the real runner, and the reads are the routes' own.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteEventStore, conversationStream } from '../../engine/store/index.js';
import { decide, evolve, initialState, toConversationCommand, toNewEvents } from '../../engine/domain/index.js';
import type { Command } from '../../protocol/index.js';
import {
  ProjectionRunner,
  builtInProjections,
  conversationsOf,
  mentionsOf,
  readMessages,
  readThread,
  threadsOf,
  withThreadSummaries,
} from '../../projections/index.js';
import { tempDir } from '../helpers/temp-dir.js';

const dir = tempDir();
const open: Array<{ close(): unknown }> = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

async function setup(name: string) {
  const store = new SqliteEventStore({ file: join(dir.path, `${name}-events.sqlite`) });
  const db = ProjectionRunner.openDatabase(join(dir.path, `${name}-rm.sqlite`));
  open.push(store, db);
  const runner = new ProjectionRunner(store, db, builtInProjections());
  await runner.start();
  open.push({ close: () => runner.stop() });
  /** Runs a command as `actor` through the decider, appends its events and waits for the read models. */
  const run = async (actor: string, command: Command): Promise<string | undefined> => {
    const conversationId = 'conversationId' in command ? command.conversationId : 'c1';
    const stream = conversationStream(conversationId);
    const past = await store.readStream(stream);
    const state = past.reduce((s, e) => evolve(s, e as never), initialState());
    const decided = decide(toConversationCommand(command), state, { actor, newId: randomUUID, now: Date.now() });
    await store.append(stream, toNewEvents(decided, { actor, commandId: randomUUID() }), { expectedVersion: past.length });
    await runner.waitFor(await store.headPosition());
    return (decided.find((e) => e.type === 'MessagePosted')?.data as { messageId?: string } | undefined)?.messageId;
  };
  return { db, run };
}

const conv = 'c1';

describe('threads read model', () => {
  it('keeps replies out of the conversation, counts them on the root, and pages them both ways', async () => {
    const { db, run } = await setup('pages');
    await run('alice', { type: 'CreateConversation', title: 't', members: ['bob', 'carol'] });
    const root = (await run('alice', { type: 'PostMessage', conversationId: conv, text: 'root' }))!;
    const replies: string[] = [];
    for (let i = 1; i <= 5; i++) replies.push((await run(i % 2 ? 'bob' : 'carol', { type: 'PostMessage', conversationId: conv, text: `r${i}`, threadRootId: root }))!);
    // A reply to a reply lands in the root's thread.
    await run('alice', { type: 'PostMessage', conversationId: conv, text: 'r6', threadRootId: replies[0]! });

    const top = withThreadSummaries(db, conv, readMessages(db, conv, { limit: 100 }));
    expect(top.map((m) => m.text)).toEqual(['root']);
    expect(top[0]!.thread).toMatchObject({ replyCount: 6, lastReply: { author: 'alice', seq: 8 } });

    const first = readThread(db, conv, root, { limit: 4 });
    expect(first.root?.messageId).toBe(root);
    expect(first.messages.map((m) => m.text)).toEqual(['r1', 'r2', 'r3', 'r4']);
    expect(first.messages.every((m) => m.threadRootId === root)).toBe(true);
    expect(readThread(db, conv, root, { after: first.messages.at(-1)!.seq, limit: 4 }).messages.map((m) => m.text)).toEqual(['r5', 'r6']);
    expect(readThread(db, conv, root, { before: first.messages[2]!.seq, limit: 1 }).messages.map((m) => m.text)).toEqual(['r2']);

    // Deleting a reply takes it out of the count; reactions on replies are kept here.
    await run('bob', { type: 'DeleteMessage', conversationId: conv, messageId: replies[0]! });
    await run('alice', { type: 'AddReaction', conversationId: conv, messageId: replies[1]!, emoji: '__proto__' });
    const after = readThread(db, conv, root, { limit: 10 });
    expect(after.root?.thread?.replyCount).toBe(5);
    expect(after.messages[0]).toMatchObject({ deleted: true, text: '' });
    expect(Object.hasOwn(after.messages[1]!.reactions, '__proto__')).toBe(true);
  });

  it('a thread reply does not bump the conversation unread count or its last message', async () => {
    const { db, run } = await setup('unread');
    await run('alice', { type: 'CreateConversation', title: 't', members: ['bob'] });
    const root = (await run('alice', { type: 'PostMessage', conversationId: conv, text: 'root' }))!;
    const bobBefore = conversationsOf(db, 'bob')[0]!;
    expect(bobBefore.unread).toBe(1);
    await run('alice', { type: 'PostMessage', conversationId: conv, text: 'in thread', threadRootId: root });
    const bobAfter = conversationsOf(db, 'bob')[0]!;
    expect(bobAfter.unread).toBe(1);
    expect(bobAfter.lastMessage?.text).toBe('root');
  });

  it('follows: root author and repliers automatically, unfollow sticks until the user replies; unread per user', async () => {
    const { db, run } = await setup('follow');
    await run('alice', { type: 'CreateConversation', title: 't', members: ['bob', 'carol'] });
    const root = (await run('alice', { type: 'PostMessage', conversationId: conv, text: 'root' }))!;
    expect(threadsOf(db, 'alice', 50)).toEqual([]);
    await run('bob', { type: 'PostMessage', conversationId: conv, text: 'b1', threadRootId: root });
    await run('bob', { type: 'PostMessage', conversationId: conv, text: 'b2', threadRootId: root });
    const [aliceThread] = threadsOf(db, 'alice', 50);
    expect(aliceThread).toMatchObject({ conversationId: conv, threadRootId: root, replyCount: 2, unread: 2, readSeq: 0 });
    expect(aliceThread!.root?.text).toBe('root');
    expect(threadsOf(db, 'bob', 50)[0]).toMatchObject({ unread: 0 });
    expect(threadsOf(db, 'carol', 50)).toEqual([]);

    await run('alice', { type: 'MarkThreadRead', conversationId: conv, threadRootId: root, seq: 3 });
    expect(threadsOf(db, 'alice', 50)[0]).toMatchObject({ unread: 1, readSeq: 3 });

    await run('alice', { type: 'UnfollowThread', conversationId: conv, threadRootId: root });
    await run('bob', { type: 'PostMessage', conversationId: conv, text: 'b3', threadRootId: root });
    expect(threadsOf(db, 'alice', 50)).toEqual([]);
    await run('carol', { type: 'FollowThread', conversationId: conv, threadRootId: root });
    expect(threadsOf(db, 'carol', 50)[0]).toMatchObject({ unread: 3 });
    await run('alice', { type: 'PostMessage', conversationId: conv, text: 'a1', threadRootId: root });
    expect(threadsOf(db, 'alice', 50)[0]).toMatchObject({ replyCount: 4, unread: 2 });

    // Leaving the conversation hides its threads.
    await run('carol', { type: 'RemoveMember', conversationId: conv, userId: 'carol' });
    expect(threadsOf(db, 'carol', 50)).toEqual([]);
  });
});

describe('mentions read model', () => {
  it('lists mentions of members newest first with an unread count, marks them read per conversation, drops deleted ones', async () => {
    const { db, run } = await setup('mentions');
    await run('alice', { type: 'CreateConversation', title: 't', members: ['bob'] });
    await run('alice', { type: 'PostMessage', conversationId: conv, text: 'hi @bob and @mallory' });
    const root = (await run('alice', { type: 'PostMessage', conversationId: conv, text: 'plain' }))!;
    const second = (await run('alice', { type: 'PostMessage', conversationId: conv, text: '@bob in a thread', threadRootId: root }))!;
    expect(mentionsOf(db, 'mallory', { limit: 50 })).toEqual({ mentions: [], unread: 0 });

    const feed = mentionsOf(db, 'bob', { limit: 50 });
    expect(feed.unread).toBe(2);
    expect(feed.mentions.map((m) => [m.text, m.threadRootId, m.read])).toEqual([
      ['@bob in a thread', root, false],
      ['hi @bob and @mallory', null, false],
    ]);
    expect(mentionsOf(db, 'bob', { before: feed.mentions[0]!.position, limit: 50 }).mentions.map((m) => m.seq)).toEqual([2]);

    await run('bob', { type: 'MarkMentionsRead', conversationId: conv, seq: 2 });
    const read = mentionsOf(db, 'bob', { limit: 50 });
    expect(read.unread).toBe(1);
    expect(read.mentions.map((m) => m.read)).toEqual([false, true]);

    await run('alice', { type: 'DeleteMessage', conversationId: conv, messageId: second });
    expect(mentionsOf(db, 'bob', { limit: 50 })).toMatchObject({ unread: 0, mentions: [{ seq: 2 }] });
  });
});
