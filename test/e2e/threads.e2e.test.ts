/**
 * Threads and mentions through the client package against a real node: replies (also
 * offline, through the outbox), the thread's page and live replies, the root's reply
 * count, unread isolation (a reply never bumps the conversation's unread count), follows,
 * thread read markers, and the mentions feed, including a mention of a non-member.
 */
import { describe, expect, it } from 'vitest';
import { isParleyError, when, type ParleyClient } from '../../client-lib/node.js';
import { eventually } from '../helpers/eventually.js';
import { useClientNode } from '../helpers/client-node.js';

const { client } = useClientNode();

/** A conversation of `alice` with `others`, created and acked; its server id. */
async function conversationOf(alice: ParleyClient, others: string[]): Promise<string> {
  const local = await alice.createConversation('Threads', others);
  await when(alice.outbox, (items) => items.length === 0);
  return alice.resolveId(local)!;
}

const unreadOf = async (c: ParleyClient, id: string) => (await c.refreshConversations()).find((s) => s.id === id)!.unread;

describe('threads through the client', () => {
  it('replies live in the thread, count on the root, and never bump the conversation unread', async () => {
    const alice = await client('t-alice');
    const bob = await client('t-bob');
    const id = await conversationOf(alice, ['t-bob']);
    const room = await alice.conversation(id);
    await room.send('lunch?');
    await when(alice.outbox, (items) => items.length === 0);
    const rootId = room.messages.get()[0]!.messageId;

    const bobsRoom = await bob.conversation(id);
    await when(bobsRoom.messages, (m) => m.some((x) => x.text === 'lunch?'));
    await bobsRoom.markRead();
    await when(bob.outbox, (items) => items.length === 0);
    expect(await unreadOf(bob, id)).toBe(0);

    const thread = room.thread(rootId);
    await thread.load();
    await bobsRoom.reply(rootId, 'yes, noon');
    await when(thread.messages, (m) => m.some((x) => x.text === 'yes, noon' && !x.pending));
    // The reply is the thread's: the conversation shows it only as a count on the root.
    await when(room.messages, (m) => m[0]?.thread?.replyCount === 1);
    expect(room.messages.get().map((m) => m.text)).toEqual(['lunch?']);
    expect(room.messages.get()[0]!.thread?.lastReply?.author).toBe('t-bob');

    // Alice's own reply to bob's reply goes to the root's thread too.
    const bobsReplyId = thread.messages.get()[0]!.messageId;
    await alice.conversation(id).then((r) => r.reply(bobsReplyId, 'see you'));
    await when(thread.messages, (m) => m.length === 2 && m.every((x) => !x.pending));

    // Unread isolation: bob's conversation unread stays 0; his thread counts alice's reply.
    expect(await unreadOf(bob, id)).toBe(0);
    expect(await unreadOf(alice, id)).toBe(0);
    const [bobsThread] = await bob.threads();
    expect(bobsThread).toMatchObject({ conversationId: id, threadRootId: rootId, replyCount: 2, unread: 1 });
    expect(bobsThread!.root?.text).toBe('lunch?');
    const [alicesThread] = await alice.threads();
    // Alice (the root's author) follows without replying first; bob's reply is unread to her.
    expect(alicesThread).toMatchObject({ threadRootId: rootId, unread: 1 });

    // Mark read through the client; a fresh page of the thread agrees with the live view.
    const bobsThreadView = bobsRoom.thread(rootId);
    await bobsThreadView.load();
    expect(bobsThreadView.messages.get().map((m) => m.text)).toEqual(['yes, noon', 'see you']);
    expect(bobsThreadView.root.get()?.thread?.replyCount).toBe(2);
    await bobsThreadView.markRead();
    await when(bob.outbox, (items) => items.length === 0);
    expect((await bob.threads())[0]).toMatchObject({ unread: 0 });

    // Unfollow: the thread leaves bob's list; following again brings it back.
    await bobsThreadView.unfollow();
    await when(bob.outbox, (items) => items.length === 0);
    expect(await bob.threads()).toEqual([]);
    await bobsThreadView.follow();
    await when(bob.outbox, (items) => items.length === 0);
    expect((await bob.threads()).map((t) => t.threadRootId)).toEqual([rootId]);
  });

  it('a reply written offline is pending in the thread and sent once online', async () => {
    const alice = await client('o-alice');
    const id = await conversationOf(alice, ['o-bob']);
    const room = await alice.conversation(id);
    await room.send('root');
    await when(alice.outbox, (items) => items.length === 0);
    const thread = room.thread(room.messages.get()[0]!.messageId);
    await thread.load();

    alice.goOffline();
    await thread.reply('written on the train');
    expect(thread.messages.get()).toMatchObject([{ text: 'written on the train', pending: true, seq: undefined }]);
    // Not in the conversation's own list, pending or not.
    expect(room.messages.get().map((m) => m.text)).toEqual(['root']);
    alice.goOnline();
    await when(thread.messages, (m) => m.length === 1 && !m[0]!.pending && m[0]!.seq !== undefined);
    await when(room.messages, (m) => m[0]?.thread?.replyCount === 1);
  });

  it('a reply to a message that does not exist fails with a code and leaves the outbox', async () => {
    const alice = await client('f-alice');
    const id = await conversationOf(alice, []);
    const failed = new Promise<string>((resolve) => alice.failures.subscribe((f) => resolve(f.code)));
    await (await alice.conversation(id)).reply('no-such-message', 'hello?');
    expect(await failed).toBe('message_not_found');
    expect(alice.outbox.get()).toEqual([]);
  });
});

describe('mentions through the client', () => {
  it('mentions members only, counts them unread until marked read; non-members get nothing and no access', async () => {
    const alice = await client('m-alice');
    const bob = await client('m-bob');
    const zed = await client('m-zed');
    const id = await conversationOf(alice, ['m-bob']);
    const room = await alice.conversation(id);
    await room.send('@m-bob and @m-zed: standup moved');
    await when(alice.outbox, (items) => items.length === 0);
    const rootId = room.messages.get()[0]!.messageId;
    await room.reply(rootId, 'ping @m-bob');
    await when(alice.outbox, (items) => items.length === 0);

    const feed = await eventually(async () => {
      const got = await bob.mentions();
      expect(got.unread).toBe(2);
      return got;
    });
    expect(feed.mentions.map((m) => [m.text, m.threadRootId, m.author, m.read])).toEqual([
      ['ping @m-bob', rootId, 'm-alice', false],
      ['@m-bob and @m-zed: standup moved', null, 'm-alice', false],
    ]);
    // m-zed is not a member: the text stays plain, nothing in their feed, no thread access.
    expect(await zed.mentions()).toEqual({ mentions: [], unread: 0 });
    const refused = await (await zed.conversation(id)).thread(rootId).load().catch((err: unknown) => err);
    expect(isParleyError(refused) && refused.code).toBe('forbidden');

    await bob.markMentionsRead();
    await when(bob.outbox, (items) => items.length === 0);
    const read = await bob.mentions();
    expect(read.unread).toBe(0);
    expect(read.mentions.every((m) => m.read)).toBe(true);
  });
});
