/**
 * The rebuild's read-ahead of the embedded log shared by two readers (engine/cli/log-prefetch.ts
 * `share` / `sharedLog`: the main thread and the side rebuild thread): both get the store's
 * own pages, upcast, from one scan; a reader that is done (released, or its port closed)
 * does not hold the other back. Real SQLite file, real worker thread.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { withUpcasting } from '../../engine/domain/index.js';
import { SqliteEventStore, type NewEvent } from '../../engine/store/index.js';
import { prefetchedLog, sharedLog, type PrefetchedLog } from '../../engine/cli/log-prefetch.js';
import type { StoredEvent } from '../../engine/store/index.js';
import { tempDir } from '../helpers/temp-dir.js';

const dir = tempDir();
const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

function posted(i: number): NewEvent {
  const data = i % 3 === 0 ? { messageId: `m${i}`, author: 'alice', text: `t${i}` } : { messageId: `m${i}`, author: 'alice', text: `t${i}`, format: 'markdown' };
  return { id: randomUUID(), type: 'MessagePosted', data, metadata: { actor: 'alice', commandId: randomUUID(), correlationId: 'c', at: 1_700_000_000_000 + i, schemaVersion: i % 3 === 0 ? 1 : 2 } };
}

async function storeWith(name: string, n: number) {
  const file = join(dir.path, `${name}.sqlite`);
  const raw = new SqliteEventStore({ file });
  open.push(raw);
  await raw.append('conversation-c1', Array.from({ length: n }, (_, i) => posted(i)), { expectedVersion: 0 });
  return { file, store: withUpcasting(raw) };
}

/** Every page front to back (the last one empty), as the runner reads them. */
async function readToEnd(log: PrefetchedLog, size: number): Promise<StoredEvent[][]> {
  const pages: StoredEvent[][] = [];
  for (let after = 0; ; ) {
    const page = await log.readAll(after, size);
    pages.push(page);
    if (page.length === 0) return pages;
    after = page[page.length - 1]!.position;
  }
}

describe('the rebuild read-ahead shared by two readers', () => {
  it('gives both the store’s pages, upcast, front to back', async () => {
    const { file, store } = await storeWith('both', 47);
    const main = prefetchedLog(file, store, 5);
    const side = sharedLog(main.share().port, store, 5);
    open.push(main, side);
    const [a, b] = await Promise.all([readToEnd(main, 5), readToEnd(side, 5)]);
    const expected = await readToEnd({ readAll: (after, n) => store.readAll(after, n), release() {}, close: async () => {} }, 5);
    expect(a).toEqual(expected);
    expect(b).toEqual(expected);
    expect(a.map((p) => p.length)).toEqual([5, 5, 5, 5, 5, 5, 5, 5, 5, 2, 0]);
    expect(a[0]![0]!.data).toMatchObject({ format: 'plain' });
  });

  it('goes on for one reader when the other released it after a page, or closed its port unread', async () => {
    const { file, store } = await storeWith('one', 30);
    const main = prefetchedLog(file, store, 4);
    const side = sharedLog(main.share().port, store, 4);
    const idle = sharedLog(main.share().port, store, 4);
    open.push(main, side, idle);
    await idle.close();
    // Pages go out once every reader still reading has started: both start here.
    const sidePages = readToEnd(side, 4);
    expect((await main.readAll(0, 4)).map((e) => e.position)).toEqual([1, 2, 3, 4]);
    main.release();
    const pages = await sidePages;
    expect(pages.flat().map((e) => e.position)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    // Released, it still reads, from the store.
    expect((await main.readAll(4, 4)).map((e) => e.position)).toEqual([5, 6, 7, 8]);
  });

  it('goes on for the starting reader when a shared one is released for it (its thread ended without a word)', async () => {
    const { file, store } = await storeWith('gone', 9);
    const main = prefetchedLog(file, store, 4);
    open.push(main);
    const gone = main.share();
    const pages = readToEnd(main, 4);
    gone.release();
    expect((await pages).map((p) => p.length)).toEqual([4, 4, 1, 0]);
  });
});
