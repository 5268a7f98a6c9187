/**
 * Membership through the client package: `addMember` lets a new member in (they can open
 * the conversation and read it), `removeMember` by the creator takes them out, and the
 * creator's conversation list shows each change once acked, without a manual refresh.
 */
import { describe, expect, it } from 'vitest';
import { when, type ParleyClient } from '../../client-lib/node.js';
import { useClientNode } from '../helpers/client-node.js';

const { client } = useClientNode();

const membersOf = (c: ParleyClient, id: string) => c.conversations.get().find((s) => s.id === c.resolveId(id))?.members.slice().sort();

describe('client membership', () => {
  it('adds and removes a member; the list follows each ack', async () => {
    const alice = await client('alice');
    const carol = await client('carol');
    const local = await alice.createConversation('Book club', ['bob']);
    const room = await alice.conversation(local);
    await room.send('chapter 3 by Friday');
    await room.addMember('carol');
    await when(alice.outbox, (items) => items.length === 0);
    await when(alice.conversations, () => membersOf(alice, local)?.includes('carol') === true);
    expect(membersOf(alice, local)).toEqual(['alice', 'bob', 'carol']);

    const id = alice.resolveId(local)!;
    const carolsRoom = await carol.conversation(id);
    await when(carolsRoom.messages, (m) => m.some((x) => x.text === 'chapter 3 by Friday'));

    await room.removeMember('carol');
    await when(alice.conversations, () => membersOf(alice, local)?.includes('carol') === false);
    expect(membersOf(alice, local)).toEqual(['alice', 'bob']);
  });

  it('a refused membership change is reported as a failure and leaves the outbox', async () => {
    const alice = await client('alice2');
    const bob = await client('bob2');
    const local = await alice.createConversation('Mine', ['bob2']);
    await when(alice.outbox, (items) => items.length === 0);
    const failed = new Promise<string>((resolve) => bob.failures.subscribe((f) => resolve(f.code)));
    // Only the creator removes somebody else.
    await (await bob.conversation(alice.resolveId(local)!)).removeMember('alice2');
    expect(await failed).toBe('forbidden');
    expect(bob.outbox.get()).toEqual([]);
  });
});
