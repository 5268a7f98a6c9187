/**
 * The embedded store's payload rewrite (AppendOptions.patches, used by erasure): the
 * patches apply in the transaction of the append that carries them, to that stream only,
 * and not at all when the append is refused; seqs, positions and other fields stay.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteEventStore, type NewEvent } from '../../engine/store/index.js';
import { redactionPatch } from '../../engine/domain/index.js';
import { posted } from '../helpers/events.js';
import { tempDir } from '../helpers/temp-dir.js';

const open: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of open.splice(0)) await c();
});

function store(): SqliteEventStore {
  const dir = tempDir();
  const s = new SqliteEventStore({ file: join(dir.path, 'events.sqlite') });
  open.push(async () => {
    await s.close();
    dir.remove();
  });
  return s;
}

const erased = (messageId: string): NewEvent => ({ ...posted('x'), type: 'MessageErased', data: { messageId, erasedBy: 'alice' } });
const patch = redactionPatch('MessagePosted')!;

describe('SQLite store: patches in an append', () => {
  it('rewrites the named events of the stream in the same append, leaving the rest', async () => {
    const s = store();
    const first = posted('secret one');
    (first.data as { mentions?: string[] }).mentions = ['bob'];
    await s.append('conversation-a', [first, posted('kept two')], { expectedVersion: 0 });
    await s.append('conversation-b', [posted('other stream')], { expectedVersion: 0 });
    const messageId = (first.data as { messageId: string }).messageId;
    const r = await s.append('conversation-a', [erased(messageId)], { expectedVersion: 2, patches: [{ seq: 1, patch }] });
    expect(r.version).toBe(3);
    const events = await s.readStream('conversation-a');
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(events[0]!.data).toEqual({ messageId, author: 'alice', text: '', format: 'plain', redacted: true });
    expect(events[0]!.position).toBe(1);
    expect(events[1]!.data).toMatchObject({ text: 'kept two' });
    expect((await s.readStream('conversation-b'))[0]!.data).toMatchObject({ text: 'other stream' });
  });

  it('rewrites nothing when the append is refused (a conflict)', async () => {
    const s = store();
    await s.append('conversation-a', [posted('secret')], { expectedVersion: 0 });
    await expect(s.append('conversation-a', [erased('m')], { expectedVersion: 5, patches: [{ seq: 1, patch }] })).rejects.toThrow();
    expect((await s.readStream('conversation-a'))[0]!.data).toMatchObject({ text: 'secret' });
  });
});
