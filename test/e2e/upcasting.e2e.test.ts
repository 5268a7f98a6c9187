/**
 * Stored old events are read in the current shape: a log written before MessagePosted v2
 * (no `format`) and read models built by the older history projection (no format column)
 * are served as current by a new node.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteEventStore } from '../../engine/store/index.js';
import { upcast } from '../../engine/domain/index.js';
import { api } from '../helpers/http.js';
import { startTestNode, tokenFor, type TestNode } from '../helpers/node.js';
import { tempDir } from '../helpers/temp-dir.js';

const dir = tempDir();
let node: TestNode | undefined;
afterAll(async () => {
  await node?.close();
  dir.remove();
});

const meta = (schemaVersion: number, at: number) => ({ actor: 'alice', commandId: `c${at}`, correlationId: `c${at}`, at, schemaVersion });

describe('upcasting stored old events', () => {
  it('reads v1 MessagePosted events as v2 and rebuilds an old read-model schema', async () => {
    const store = new SqliteEventStore({ file: join(dir.path, 'events.sqlite') });
    const stream = 'conversation-old';
    await store.append(
      stream,
      [
        { id: 'e1', type: 'ConversationCreated', data: { title: 'Old', createdBy: 'alice', members: ['alice'] }, metadata: meta(1, 1000) },
        // Exactly what v1 stored: no `format`.
        { id: 'e2', type: 'MessagePosted', data: { messageId: 'm1', author: 'alice', text: 'written in 2025' }, metadata: meta(1, 2000) },
      ],
      { expectedVersion: 0 },
    );
    await store.close();
    // Read models as the previous history projection (v2) left them.
    const rm = new Database(join(dir.path, 'readmodels.sqlite'));
    rm.exec(`CREATE TABLE projection_checkpoints (name TEXT PRIMARY KEY, version INTEGER NOT NULL, position INTEGER NOT NULL) WITHOUT ROWID;
      CREATE TABLE messages (conversation_id TEXT NOT NULL, seq INTEGER NOT NULL, message_id TEXT NOT NULL UNIQUE, author TEXT NOT NULL,
        text TEXT NOT NULL, sent_at INTEGER NOT NULL, reactions TEXT NOT NULL DEFAULT '{}', deleted INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (conversation_id, seq)) WITHOUT ROWID;
      INSERT INTO messages (conversation_id, seq, message_id, author, text, sent_at) VALUES ('old', 2, 'm1', 'alice', 'written in 2025', 2000);
      INSERT INTO projection_checkpoints VALUES ('history', 2, 2);`);
    rm.close();

    node = await startTestNode({ dataDir: dir.path });
    const alice = api(node.url, tokenFor('alice'));
    const { body } = await alice.get('/v1/conversations/old/messages');
    expect(body.messages).toEqual([expect.objectContaining({ seq: 2, text: 'written in 2025', format: 'plain' })]);
    const posted = await alice.post('/v1/conversations/old/messages', { clientMessageId: 'new', text: '**now**', format: 'markdown' });
    expect(posted.status).toBe(201);
    const feed = await fetch(`${node.url}/v1/admin/feed?conversation=old&types=MessagePosted`, {
      headers: { authorization: `Bearer ${tokenFor('ops', { role: 'admin' })}` },
    });
    const events = (await feed.text()).split('\n').filter(Boolean).map((l) => JSON.parse(l));
    expect(events.map((e) => [e.data.format, e.metadata.schemaVersion])).toEqual([
      ['plain', 2],
      ['markdown', 2],
    ]);
  });

  it('refuses to guess when no upcaster exists for a stored version', () => {
    const e = { stream: 's', seq: 1, position: 1, id: 'x', type: 'MessagePosted', data: {}, metadata: meta(0, 1) };
    expect(() => upcast(e)).toThrow(/no upcaster for MessagePosted v0/);
    const current = { ...e, metadata: meta(2, 1) };
    expect(upcast(current)).toBe(current);
  });
});
