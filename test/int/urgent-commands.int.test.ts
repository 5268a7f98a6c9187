/**
 * A moderator's command does not starve when other writers keep winning the race for the
 * conversation: it is decided again at once against a private state caught up with only
 * the events it missed, up to 32 times in one request, while a post gives up after 8.
 *
 * The contention is made, not hoped for: a second CommandHandler on the same SQLite store
 * (another node) posts just before each of the first N appends of the command under test,
 * so each of those appends expects a version that is already gone.
 */
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CommandHandler } from '../../engine/node/command-handler.js';
import { createMetrics, type Metrics } from '../../engine/node/metrics.js';
import { SqliteEventStore, decorate, type EventStore, type NewEvent } from '../../engine/store/index.js';
import { tempDir } from '../helpers/temp-dir.js';

describe('urgent commands under contention', () => {
  let dir: ReturnType<typeof tempDir>;
  let sqlite: SqliteEventStore;
  let metrics: Metrics;
  /** How many more appends of the watched type another node gets in front of. */
  let interfere = 0;
  let watched = '';
  const reads: number[] = [];
  let other: CommandHandler;
  let conversationId = '';
  let flood = 0;

  beforeEach(async () => {
    dir = tempDir('parley-urgent-');
    sqlite = new SqliteEventStore({ file: join(dir.path, 'events.sqlite') });
    metrics = createMetrics('a');
    other = new CommandHandler(sqlite, createMetrics('b'), { maxTextBytes: 4096 });
    const created = await other.handle('alice', { type: 'CreateConversation', title: 't', members: ['bob', 'carol'] }, 'c1');
    conversationId = created.result.conversationId;
    interfere = 0;
    reads.length = 0;
  });
  afterEach(async () => {
    await sqlite.close();
    dir.remove();
  });

  /** Node A: every append of a `watched` event first lets node B post. */
  function nodeA(): CommandHandler {
    const store: EventStore = decorate(sqlite, {
      append: async (stream, events: NewEvent[], options) => {
        if (interfere > 0 && events.some((e) => e.type === watched)) {
          interfere--;
          await other.handle('bob', { type: 'PostMessage', conversationId, text: `flood ${flood}` }, `flood-${flood++}`);
        }
        return sqlite.append(stream, events, options);
      },
      readStream: (stream, options) => (reads.push(options?.afterSeq ?? 0), sqlite.readStream(stream, options)),
    });
    return new CommandHandler(store, metrics, { maxTextBytes: 4096 });
  }

  async function conflictsOf(type: string): Promise<number> {
    const values = (await metrics.commandConflicts.get()).values;
    return values.find((v) => v.labels.type === type)?.value ?? 0;
  }

  it('lands a ban that lost 20 races in one request, reading only what it missed after the first reload', async () => {
    const a = nodeA();
    await a.stateOf(conversationId); // A caches the conversation: B's posts make that stale
    watched = 'MemberBanned';
    interfere = 20;
    const ban = await a.handle('alice', { type: 'BanMember', conversationId, userId: 'carol' }, 'ban-1');
    expect(interfere).toBe(0);
    expect(await conflictsOf('BanMember')).toBe(20);
    // The cache's read, one cold read after the first lost race, then each of the other 19
    // re-decisions reads only after the version it had, which grows by B's post each time.
    expect(reads.slice(0, 2)).toEqual([0, 0]);
    const retries = reads.slice(2);
    expect(retries).toHaveLength(19);
    expect(retries.every((afterSeq, i) => afterSeq > 1 && (i === 0 || afterSeq === retries[i - 1]! + 1))).toBe(true);
    const log = await sqlite.readStream(`conversation-${conversationId}`, { limit: 1000 });
    expect(log.filter((e) => e.type === 'MessagePosted')).toHaveLength(20);
    expect(log.at(-2)).toMatchObject({ type: 'MemberBanned', seq: ban.result.seq - 1 });
    expect(log.at(-1)).toMatchObject({ type: 'MemberLeft', seq: ban.result.seq });
    // The state A cached after the urgent path is current: its next command appends without a conflict.
    expect((await a.handle('alice', { type: 'PostMessage', conversationId, text: 'after' }, 'after-1')).result.seq).toBe(ban.result.seq + 1);
    expect(await conflictsOf('PostMessage')).toBe(0);
  });

  it('lets a post give up with conflict after 8 lost races: posts are not urgent', async () => {
    const a = nodeA();
    watched = 'MessagePosted';
    interfere = 8;
    await expect(a.handle('carol', { type: 'PostMessage', conversationId, text: 'mine' }, 'p-1')).rejects.toMatchObject({ code: 'conflict' });
    expect(await conflictsOf('PostMessage')).toBe(8);
  });

  it('still refuses what the missed events forbid: a ban decided again after the banner was demoted is forbidden', async () => {
    await other.handle('alice', { type: 'SetRole', conversationId, userId: 'bob', role: 'admin' }, 'r-1');
    const a = nodeA();
    await a.stateOf(conversationId);
    watched = 'MemberBanned';
    interfere = 1;
    // A's cache still has bob as admin: the first decision allows the ban, loses the race, and the re-decision sees the demotion.
    await other.handle('alice', { type: 'SetRole', conversationId, userId: 'bob', role: 'member' }, 'r-2');
    await expect(a.handle('bob', { type: 'BanMember', conversationId, userId: 'carol' }, 'ban-2')).rejects.toMatchObject({ code: 'forbidden' });
  });
});
