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
