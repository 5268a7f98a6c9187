/** `parley replay`: the log as NDJSON, into a fresh projection, and time travel with --at. */
import Database from 'better-sqlite3';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api } from '../helpers/http.js';
import { startTestNode, tokenFor } from '../helpers/node.js';
import { tempDir } from '../helpers/temp-dir.js';
import { PARLEY_BIN as BIN } from '../helpers/cli.js';

const exec = promisify(execFile);
const dir = tempDir();
let conversationId = '';
let doomedId = '';
afterAll(() => dir.remove());

const parley = async (...args: string[]) => exec(process.execPath, [BIN, ...args, '--data-dir', dir.path]);

/** Time an event was recorded, from the log itself. */
function recordedAt(type: string): number {
  const db = new Database(join(dir.path, 'events.sqlite'), { readonly: true });
  try {
    const row = db.prepare('SELECT metadata FROM events WHERE stream = ? AND type = ? ORDER BY seq DESC LIMIT 1').get(`conversation-${conversationId}`, type) as { metadata: string };
    return JSON.parse(row.metadata).at;
  } finally {
    db.close();
  }
}

// Distinct milliseconds between the steps, so "as of T" falls between them.
const nextMillisecond = () => new Promise((r) => setTimeout(r, 5));

beforeAll(async () => {
  const node = await startTestNode({ dataDir: dir.path });
  const alice = api(node.url, tokenFor('alice'));
  const bob = api(node.url, tokenFor('bob'));
  conversationId = (await alice.post('/v1/conversations', { title: 'time travel', members: ['bob'] })).body.id;
  await alice.post(`/v1/conversations/${conversationId}/messages`, { clientMessageId: 'keep', text: 'stays' });
  doomedId = (await alice.post(`/v1/conversations/${conversationId}/messages`, { clientMessageId: 'doomed', text: 'regrettable' })).body.messageId;
  await bob.post(`/v1/conversations/${conversationId}/messages/${doomedId}/reactions`, { emoji: '😬' });
  await nextMillisecond();
  await alice.delete(`/v1/conversations/${conversationId}/messages/${doomedId}`);
  await nextMillisecond();
  await alice.post(`/v1/conversations/${conversationId}/messages`, { clientMessageId: 'later', text: 'moving on' });
  await node.close();
});

describe('parley replay', () => {
  it('prints a conversation as NDJSON in seq order, bounded by position', async () => {
    const { stdout, stderr } = await parley('replay', '--conversation', conversationId);
    const events = stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(events.map((e) => e.type)).toEqual(['ConversationCreated', 'MessagePosted', 'MessagePosted', 'ReactionAdded', 'MessageDeleted', 'MessagePosted']);
    expect(stderr).toMatch(/replayed 6 events of conversation/);

    const from = events[2].position;
    const to = events[4].position;
    const bounded = await parley('replay', '--from-position', String(from), '--to-position', String(to));
    const positions = bounded.stdout.trim().split('\n').map((l) => JSON.parse(l).position);
    expect(positions[0]).toBe(from);
    expect(positions.at(-1)).toBe(to);

    const text = await parley('replay', '--conversation', conversationId, '--format', 'text');
    expect(text.stdout).toMatch(/seq 5 .* MessageDeleted by alice/);
  });

  it('shows a deleted message as not yet deleted before its deletion time (--at)', async () => {
    const deletedAt = recordedAt('MessageDeleted');
    const before = new Date(deletedAt - 1).toISOString();
    const asThen = await parley('replay', '--conversation', conversationId, '--at', before, '--format', 'ndjson');
    const then = asThen.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(then.map((m) => m.messageId)).toContain(doomedId);
    expect(then.find((m) => m.messageId === doomedId)).toMatchObject({ text: 'regrettable', deleted: false, reactions: { '😬': ['bob'] } });
    expect(then.map((m) => m.text)).not.toContain('moving on');

    const asNow = await parley('replay', '--conversation', conversationId, '--at', new Date(deletedAt).toISOString(), '--format', 'ndjson');
    const now = asNow.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(now.find((m) => m.messageId === doomedId)).toMatchObject({ text: '', deleted: true });

    const readable = await parley('replay', '--conversation', conversationId, '--at', before);
    expect(readable.stdout).toContain('"time travel"');
    expect(readable.stdout).toMatch(/members: alice, bob/);
    expect(readable.stdout).toMatch(/#3 .* alice: regrettable\s+\[😬 bob\]/);
  });

  it('replays into a fresh projection without touching the node read models', async () => {
    const { stdout, stderr } = await parley('replay', '--conversation', conversationId, '--into', 'history');
    const rows = stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(rows.every((r) => r.table === 'messages')).toBe(true);
    expect(rows.map((r) => r.row.seq)).toEqual([2, 3, 6]);
    expect(rows.find((r) => r.row.message_id === doomedId).row.deleted).toBe(1);
    expect(stderr).toMatch(/into a fresh history read model: 3 rows/);
  });

  it('rejects bad flags with exit 2', async () => {
    const err = await parley('replay', '--at', 'yesterday-ish').catch((e) => e);
    expect(err.code).toBe(2);
    expect(err.stderr).toMatch(/--at must be an ISO 8601 time/);
    const unknown = await parley('replay', '--into', 'nope').catch((e) => e);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown projection "nope"/);
  });
});
