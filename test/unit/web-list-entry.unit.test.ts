/**
 * A conversation list line, live: the fetched summary brought up to date by what the
 * subscription delivered since, and by the page's own read marker.
 */
import { describe, expect, it } from 'vitest';
import type { ConversationSummary, MessageView } from '../../client-lib/index.js';
import { listEntry } from '../../web/list-entry.js';

const summary = (over: Partial<ConversationSummary> = {}): ConversationSummary => ({
  id: 'c1',
  title: 'Plans',
  createdBy: 'alice',
  createdAt: '2026-01-01T00:00:00.000Z',
  members: ['alice', 'bob'],
  lastSeq: 3,
  lastMessage: { seq: 3, messageId: 'm3', author: 'bob', text: 'fetched', sentAt: '2026-01-01T00:00:03.000Z' },
  readSeq: 1,
  unread: 2,
  ...over,
});

const msg = (seq: number | undefined, author: string, text: string, over: Partial<MessageView> = {}): MessageView => ({
  seq,
  messageId: `m${seq ?? text}`,
  author,
  text,
  sentAt: 1000 * (seq ?? 99),
  reactions: Object.create(null),
  deleted: false,
  pending: seq === undefined,
  ...over,
});

describe('listEntry', () => {
  it('is the summary when nothing newer arrived', () => {
    expect(listEntry(summary(), undefined, 0, 'alice')).toMatchObject({ unread: 2, last: { author: 'bob', text: 'fetched', pending: false } });
  });

  it("counts others' messages newer than the summary, not mine nor deleted ones", () => {
    const messages = [msg(3, 'bob', 'fetched'), msg(4, 'bob', 'new'), msg(5, 'alice', 'mine'), msg(6, 'bob', 'gone', { deleted: true, text: '' })];
    expect(listEntry(summary(), messages, 0, 'alice')).toMatchObject({ unread: 3, last: { author: 'alice', text: 'mine' } });
  });

  it('a read marker past the summary clears what the server counted', () => {
    const messages = [msg(3, 'bob', 'fetched'), msg(4, 'bob', 'new'), msg(5, 'bob', 'newer')];
    expect(listEntry(summary(), messages, 4, 'alice').unread).toBe(1);
    expect(listEntry(summary(), messages, 5, 'alice').unread).toBe(0);
  });

  it('shows a pending post of mine as the last message', () => {
    expect(listEntry(summary(), [msg(3, 'bob', 'fetched'), msg(undefined, 'alice', 'queued')], 0, 'alice')).toMatchObject({ unread: 2, last: { text: 'queued', pending: true } });
  });

  it('a conversation created offline is pending with no messages', () => {
    expect(listEntry(summary({ pending: true, lastSeq: 0, lastMessage: null, unread: 0, readSeq: 0 }), [], 0, 'alice')).toMatchObject({ pending: true, unread: 0, last: null });
  });
});
