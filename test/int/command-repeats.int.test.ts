/**
 * A repeated command id gets the first run's result, whichever way the repeat is found:
 * by this node's memory of recent commands (then nothing is decided or appended again),
 * by the store's check inside the append, or — when the command would now be refused
 * (its message since deleted) — by looking the key up after the refusal.
 *
 * A second CommandHandler on the same store stands for another node, or this one after
 * a restart: it has no memory of the first one's commands.
 */
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CommandHandler } from '../../engine/node/command-handler.js';
import { createMetrics } from '../../engine/node/metrics.js';
import { SqliteEventStore, decorate, type EventStore } from '../../engine/store/index.js';
import { tempDir } from '../helpers/temp-dir.js';

describe('repeated commands', () => {
  let dir: ReturnType<typeof tempDir>;
  let sqlite: SqliteEventStore;
  let store: EventStore;
  const calls = { append: 0, readStream: 0, findIdempotency: 0 };
  const handler = () => new CommandHandler(store, createMetrics('n1'), { maxTextBytes: 4096 });

  beforeEach(() => {
    dir = tempDir('parley-repeats-');
    sqlite = new SqliteEventStore({ file: join(dir.path, 'events.sqlite') });
    Object.assign(calls, { append: 0, readStream: 0, findIdempotency: 0 });
    store = decorate(sqlite, {
      append: (...args) => (calls.append++, sqlite.append(...args)),
      readStream: (...args) => (calls.readStream++, sqlite.readStream(...args)),
      findIdempotency: (key) => (calls.findIdempotency++, sqlite.findIdempotency(key)),
    });
  });
  afterEach(async () => {
    await sqlite.close();
    dir.remove();
  });

  async function conversationWithPost(h: CommandHandler) {
    const created = await h.handle('alice', { type: 'CreateConversation', title: 't', members: [] }, 'c1');
    const conversationId = created.result.conversationId;
    const post = { type: 'PostMessage' as const, conversationId, text: 'hello' };
    const posted = await h.handle('alice', post, 'p1');
    return { conversationId, post, posted };
  }

  it('answers a repeat to the same node from memory: nothing decided, appended or read again', async () => {
    const h = handler();
    const { post, posted } = await conversationWithPost(h);
    const before = { ...calls };
    expect(await h.handle('alice', post, 'p1')).toEqual({ result: posted.result, duplicate: true });
    expect(calls).toEqual(before);
    await expect(h.handle('alice', { ...post, text: 'other' }, 'p1')).rejects.toMatchObject({ code: 'idempotency_mismatch' });
    // A non-member repeating someone else's id is refused like a first attempt.
    await expect(h.handle('mallory', post, 'p1')).rejects.toMatchObject({ code: 'forbidden' });
  });

  it('answers a repeat to another node through the store, appending nothing', async () => {
    const { conversationId, post, posted } = await conversationWithPost(handler());
    const version = await sqlite.streamVersion(`conversation-${conversationId}`);
    const other = handler();
    const before = calls.findIdempotency;
    expect(await other.handle('alice', post, 'p1')).toEqual({ result: posted.result, duplicate: true });
    expect(calls.findIdempotency).toBe(before); // found inside the append, not looked up first
    expect(await sqlite.streamVersion(`conversation-${conversationId}`)).toBe(version);
    await expect(handler().handle('alice', { ...post, text: 'other' }, 'p1')).rejects.toMatchObject({ code: 'idempotency_mismatch' });
  });

  it('answers a repeat the state would now refuse with its original result', async () => {
    const h = handler();
    const { conversationId, posted } = await conversationWithPost(h);
    const messageId = posted.result.messageId!;
    const react = { type: 'AddReaction' as const, conversationId, messageId, emoji: '👍' };
    const reacted = await h.handle('alice', react, 'r1');
    await h.handle('alice', { type: 'DeleteMessage', conversationId, messageId }, 'd1');

    const other = handler();
    expect(await other.handle('alice', react, 'r1')).toEqual({ result: reacted.result, duplicate: true });
    await expect(handler().handle('alice', { ...react, emoji: '🎉' }, 'r1')).rejects.toMatchObject({ code: 'idempotency_mismatch' });
    await expect(handler().handle('alice', react, 'r2')).rejects.toMatchObject({ code: 'message_deleted' });
    await expect(handler().handle('mallory', react, 'r1')).rejects.toMatchObject({ code: 'forbidden' });
  });
});
