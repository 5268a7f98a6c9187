/**
 * `parley rebuild` reads the embedded log ahead on a worker thread (engine/cli/log-prefetch.ts):
 * the pages it gives must be the store's own pages, upcast, whatever the runner asks for —
 * in sequence (from the thread), out of sequence (from the store), and past the end the
 * thread saw (a head that moved). Real SQLite file, real worker thread.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { withUpcasting } from '../../engine/domain/index.js';
import { SqliteEventStore, type NewEvent } from '../../engine/store/index.js';
import { prefetchedLog, type PrefetchedLog } from '../../engine/cli/log-prefetch.js';
import { tempDir } from '../helpers/temp-dir.js';

const dir = tempDir();
const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

function posted(i: number, schemaVersion: number): NewEvent {
  const data = schemaVersion === 1 ? { messageId: `m${i}`, author: 'alice', text: `t${i}` } : { messageId: `m${i}`, author: 'alice', text: `t${i}`, format: 'markdown' };
  return { id: randomUUID(), type: 'MessagePosted', data, metadata: { actor: 'alice', commandId: randomUUID(), correlationId: 'c', at: 1_700_000_000_000 + i, schemaVersion } };
}

async function storeWith(name: string, n: number) {
  const file = join(dir.path, `${name}.sqlite`);
  const raw = new SqliteEventStore({ file });
  open.push(raw);
  // v1 messages (no format) among v2 ones, so upcasting shows in what is read.
  await raw.append('conversation-c1', Array.from({ length: n }, (_, i) => posted(i, i % 3 === 0 ? 1 : 2)), { expectedVersion: 0 });
  return { file, raw, store: withUpcasting(raw) };
}

function track(log: PrefetchedLog): PrefetchedLog {
  open.push(log);
  return log;
}

describe('the log read ahead for a rebuild', () => {
  it('gives the store’s pages, upcast, front to back, and an empty page at the end', async () => {
    const { file, store } = await storeWith('seq', 23);
    const log = track(prefetchedLog(file, store, 5));
    const pages: number[][] = [];
    for (let after = 0; ; ) {
      const page = await log.readAll(after, 5);
      expect(page).toEqual(await store.readAll(after, 5));
      if (page.length === 0) break;
      pages.push(page.map((e) => e.position));
      after = page[page.length - 1]!.position;
    }
    expect(pages.map((p) => p.length)).toEqual([5, 5, 5, 5, 3]);
    const first = (await log.readAll(0, 1000))[0]!;
    expect(first.data).toMatchObject({ messageId: 'm0', format: 'plain' });
    expect(first.metadata.schemaVersion).toBe(2);
  });

  it('answers a read out of sequence from the store and keeps its own sequence going', async () => {
    const { file, store } = await storeWith('jump', 12);
    const log = track(prefetchedLog(file, store, 4));
    expect((await log.readAll(0, 4)).map((e) => e.position)).toEqual([1, 2, 3, 4]);
    // Another reader's look through the log (other page size, other start): not the thread's page.
    expect((await log.readAll(1, 2)).map((e) => e.position)).toEqual([2, 3]);
    expect((await log.readAll(9, 4)).map((e) => e.position)).toEqual([10, 11, 12]);
    expect((await log.readAll(4, 4)).map((e) => e.position)).toEqual([5, 6, 7, 8]);
  });

  it('reads events appended after it saw the end from the store', async () => {
    const { file, raw, store } = await storeWith('grow', 3);
    const log = track(prefetchedLog(file, store, 10));
    expect(await log.readAll(0, 10)).toHaveLength(3);
    expect(await log.readAll(3, 10)).toEqual([]);
    await raw.append('conversation-c1', [posted(3, 2)], { expectedVersion: 3 });
    expect((await log.readAll(3, 10)).map((e) => e.data)).toEqual([{ messageId: 'm3', author: 'alice', text: 't3', format: 'markdown' }]);
  });

  it('fails the read, with the reason, when the file cannot be read', async () => {
    const { store } = await storeWith('missing', 1);
    const log = track(prefetchedLog(join(dir.path, 'no-such-file.sqlite'), store, 10));
    await expect(log.readAll(0, 10)).rejects.toThrow(/unable to open|does not exist|SQLITE_CANTOPEN|exited/i);
  });
});
