/**
 * `parley rebuild` builds some read models on a second thread into a scratch file and
 * copies them into the read-model file at the end (engine/cli/rebuild-side.ts). Every
 * table it leaves must equal, row for row, what live projection builds event by event,
 * on a randomized log (seed printed; replay with REBUILD_SIDE_SEED) of several pages with
 * deletes, edits, reactions, thread replies, mentions, members joining and leaving and
 * read markers. An operator skip is honoured on the side thread too. Real CLI process,
 * real SQLite files.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { copyFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteEventStore, type NewEvent } from '../../engine/store/index.js';
import { ProjectionRunner, builtInProjections, recordSkip } from '../../projections/index.js';
import { canonicalRows, columnsOf, projectionTables } from '../../engine/cli/read-model-tables.js';
import { SIDE } from '../../engine/cli/rebuild-side.js';
import { PARLEY_BIN } from '../helpers/cli.js';
import { seedFrom, seededRandom, type Random } from '../helpers/seeded-random.js';
import { tempDir } from '../helpers/temp-dir.js';

const run = promisify(execFile);
const dir = tempDir();
const open: Array<{ close(): unknown }> = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

let clock = Date.UTC(2026, 10, 30, 9);
function event(type: string, data: object, actor: string): NewEvent {
  clock += 1000 + 3_600_000 * Number(type === 'ReadMarkerSet');
  return { id: randomUUID(), type, data, metadata: { actor, commandId: randomUUID(), correlationId: 'c', at: clock, schemaVersion: type === 'MessagePosted' ? 2 : 1 } };
}

const USERS = ['alice', 'bob', 'carol', 'dave'];

/** One conversation's events: a random mix of what the deciders write. */
function conversationLog(rnd: Random, n: number): NewEvent[] {
  const events = [event('ConversationCreated', { title: `t${rnd.int(100)}`, createdBy: 'alice', members: ['alice', 'bob', 'carol'] }, 'alice')];
  const posted: string[] = [];
  while (events.length < n) {
    const actor = rnd.pick(USERS);
    const target = posted.length > 0 ? rnd.pick(posted) : undefined;
    const kind = target === undefined ? 'post' : rnd.weighted<string>([[60, 'post'], [6, 'reply'], [5, 'delete'], [4, 'edit'], [5, 'react'], [2, 'unreact'], [4, 'read'], [2, 'join'], [1, 'leave'], [1, 'expire'], [1, 'retain']]);
    const text = `${rnd.pick(['zebra', 'lion', 'lunch', 'deploy'])} ${rnd.int(1000)}`;
    if (kind === 'post' || kind === 'reply') {
      const messageId = `m${randomUUID()}`;
      const mentions = rnd.chance(0.1) ? [rnd.pick(USERS)] : undefined;
      const thread = kind === 'reply' ? { threadRootId: target, threadRootAuthor: 'alice' } : {};
      events.push(event('MessagePosted', { messageId, author: actor, text, format: 'plain', ...(mentions && { mentions }), ...thread }, actor));
      if (kind === 'post') posted.push(messageId);
    } else if (kind === 'delete') events.push(event('MessageDeleted', { messageId: target, deletedBy: actor }, actor));
    else if (kind === 'edit') events.push(event('MessageBodyEdited', { messageId: target, update: '', text: `edited ${text}` }, actor));
    else if (kind === 'react' || kind === 'unreact') events.push(event(kind === 'react' ? 'ReactionAdded' : 'ReactionRemoved', { messageId: target, userId: actor, emoji: rnd.pick(['🔥', '👍']) }, actor));
    else if (kind === 'read') events.push(event('ReadMarkerSet', { userId: actor, seq: rnd.between(1, events.length) }, actor));
    // A retention sweep: during the bulk load, search and the conversation list find what it covers without their seq indexes.
    else if (kind === 'expire') events.push(event('MessagesExpired', { throughSeq: rnd.between(1, events.length), olderThan: clock }, 'system'));
    // A retention period set or taken away: search indexes the conversation's rows for sweeps from then on.
    else if (kind === 'retain') events.push(event('RetentionSet', { periodSeconds: rnd.pick([null, 3600]), setBy: 'alice' }, 'alice'));
    else if (kind === 'join') events.push(event('MemberJoined', { userId: actor, addedBy: 'alice' }, 'alice'));
    else events.push(event('MemberLeft', { userId: actor, removedBy: 'alice' }, 'alice'));
  }
  return events;
}

/** Every table of every built-in read model, rows sorted, so two files compare table by table. */
function tables(file: string): Record<string, string[]> {
  const db = ProjectionRunner.openDatabase(file);
  try {
    const out: Record<string, string[]> = {};
    for (const p of builtInProjections()) for (const t of projectionTables(p)) out[t] = canonicalRows(db, t, columnsOf(db, t));
    out.projection_checkpoints = canonicalRows(db, 'projection_checkpoints', ['name', 'version', 'position']);
    return out;
  } finally {
    db.close();
  }
}

describe('parley rebuild with read models built on a side thread', () => {
  it('leaves every table equal to live projection, on a randomized log, with an operator skip', async () => {
    const seed = seedFrom('REBUILD_SIDE_SEED');
    console.log(`rebuild-side seed ${seed} (replay: REBUILD_SIDE_SEED=${seed})`);
    const rnd = seededRandom(seed);
    expect(SIDE.length).toBeGreaterThan(0);
    const store = new SqliteEventStore({ file: join(dir.path, 'events.sqlite') });
    open.push(store);
    // More than one page (5000 events) of the rebuild, over several conversations.
    for (let c = 0; c < 3; c++) await store.append(`conversation-c${c}`, conversationLog(rnd, rnd.between(2500, 4000)), { expectedVersion: 0 });
    const head = await store.headPosition();
    const skipped = rnd.between(2, head);

    const liveFile = join(dir.path, 'live.sqlite');
    const live = ProjectionRunner.openDatabase(liveFile);
    open.push(live);
    for (const name of SIDE) recordSkip(live, name, skipped, 'test');
    const runner = new ProjectionRunner(store, live, builtInProjections());
    await runner.start();
    await runner.stop();
    expect(runner.position).toBe(head);
    live.pragma('wal_checkpoint(TRUNCATE)');
    live.close();
    open.splice(open.indexOf(live), 1);
    await store.close();
    open.splice(open.indexOf(store), 1);
    const expected = tables(liveFile);

    // The same skip in the file the CLI rebuilds (over old contents), then the CLI.
    copyFileSync(liveFile, join(dir.path, 'readmodels.sqlite'));
    const env = { ...process.env, PARLEY_JWT_SECRET: 'a-test-secret-of-enough-length-0123456789', NATS_URL: '' };
    const out = await run(process.execPath, [PARLEY_BIN, 'rebuild', '--data-dir', dir.path], { env });
    expect(out.stdout).toMatch(new RegExp(`rebuilt .* from ${head} events`));
    expect(existsSync(join(dir.path, 'readmodels.sqlite.rebuild-side'))).toBe(false);

    const rebuilt = tables(join(dir.path, 'readmodels.sqlite'));
    expect(Object.keys(rebuilt).sort()).toEqual(Object.keys(expected).sort());
    for (const t of Object.keys(expected)) expect(rebuilt[t], `table ${t} (seed ${seed})`).toEqual(expected[t]);
  }, 300_000);
});
