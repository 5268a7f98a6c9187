import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { SqliteEventStore } from '../../engine/store/sqlite.js';
import { tempDir } from '../helpers/temp-dir.js';
import { describeEventStoreContract } from './event-store.contract.js';

describeEventStoreContract('sqlite', async () => {
  const dir = tempDir();
  return {
    open: async () => new SqliteEventStore({ file: join(dir.path, 'events.sqlite') }),
    cleanup: async () => dir.remove(),
  };
});

describe('SQLite event store specifics', () => {
  it('lists idempotency records past one page (1000) without losing or repeating a key', async () => {
    const dir = tempDir();
    const store = new SqliteEventStore({ file: join(dir.path, 'events.sqlite') });
    try {
      const keys = Array.from({ length: 2345 }, (_, i) => `k:${String(i).padStart(5, '0')}`);
      await Promise.all(keys.map((key) => store.append('node-keys', [], { expectedVersion: 'any', idempotency: { key, fingerprint: 'f', result: { i: key } } })));
      const listed: string[] = [];
      for await (const r of store.idempotencyRecords()) listed.push(r.key);
      expect(listed).toEqual(keys);
    } finally {
      await store.close();
      dir.remove();
    }
  });
});
