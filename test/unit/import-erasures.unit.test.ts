/**
 * What `parley import` writes redacted: given the events of a file (check pass), each
 * content event of an erased or expired message comes out through `redactEvent`; other
 * messages, other conversations and non-content events come out as they were.
 */
import { describe, expect, it } from 'vitest';
import { ImportErasures } from '../../engine/cli/import-erasures.js';

const A = 'conversation-a';
const B = 'conversation-b';
const posted = (stream: string, seq: number, messageId: string) => ({ stream, seq, type: 'MessagePosted', data: { messageId, author: 'u', text: `secret ${messageId}`, mentions: ['x'] } });
const edited = (stream: string, seq: number, messageId: string) => ({ stream, seq, type: 'MessageBodyEdited', data: { messageId, update: 'AQID', text: `secret edit ${messageId}` } });

function given(events: Array<{ stream: string; seq: number; type: string; data: unknown }>) {
  const erasures = new ImportErasures();
  for (const e of events) erasures.noteErasure(e);
  return events.map((e) => erasures.redactImported(e));
}

describe('ImportErasures', () => {
  it('redacts the post and every edit of an erased message, in its own conversation only', () => {
    const out = given([
      posted(A, 1, 'm1'),
      posted(A, 2, 'm2'),
      edited(A, 3, 'm1'),
      posted(B, 1, 'm1'),
      { stream: A, seq: 4, type: 'MessageErased', data: { messageId: 'm1', erasedBy: 'u' } },
    ]);
    expect(out[0]!.data).toEqual({ messageId: 'm1', author: 'u', text: '', redacted: true });
    expect(out[1]!.data).toMatchObject({ text: 'secret m2' });
    expect(out[2]!.data).toEqual({ messageId: 'm1', update: '', text: '', redacted: true });
    expect(out[3]!.data).toMatchObject({ text: 'secret m1' });
    expect(out[4]!.data).toEqual({ messageId: 'm1', erasedBy: 'u' });
  });

  it('redacts posts at or before the latest throughSeq, and their edits even past it', () => {
    const out = given([
      posted(A, 1, 'm1'),
      posted(A, 2, 'm2'),
      posted(A, 3, 'm3'),
      edited(A, 4, 'm2'),
      { stream: A, seq: 5, type: 'MessagesExpired', data: { throughSeq: 1, olderThan: 0 } },
      { stream: A, seq: 6, type: 'MessagesExpired', data: { throughSeq: 2, olderThan: 0 } },
      posted(B, 1, 'm9'),
    ]);
    expect(out.map((e) => (e.data as { redacted?: boolean }).redacted ?? false)).toEqual([true, true, false, true, false, false, false]);
  });

  it('ignores erasure events whose data is not the expected shape', () => {
    const out = given([posted(A, 1, 'm1'), { stream: A, seq: 2, type: 'MessageErased', data: null }, { stream: A, seq: 3, type: 'MessagesExpired', data: { throughSeq: '1' } }]);
    expect(out[0]!.data).toMatchObject({ text: 'secret m1' });
  });
});
