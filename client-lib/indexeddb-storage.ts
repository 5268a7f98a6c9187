/**
 * Storage in the browser's IndexedDB: one object store of JSON values by string key.
 * A `put` resolves when its readwrite transaction has completed, which is IndexedDB's
 * durability point.
 */
import type { Storage } from './storage.js';

const STORE = 'kv';

export class IndexedDbStorage implements Storage {
  private constructor(private readonly db: IDBDatabase) {}

  /** Opens (or creates) the database `name`; one per user and server is a good choice. */
  static open(name = 'parley', factory: IDBFactory = globalThis.indexedDB): Promise<IndexedDbStorage> {
    return new Promise((resolve, reject) => {
      const request = factory.open(name, 1);
      request.onupgradeneeded = () => {
        if (!request.result.objectStoreNames.contains(STORE)) request.result.createObjectStore(STORE);
      };
      request.onsuccess = () => resolve(new IndexedDbStorage(request.result));
      request.onerror = () => reject(request.error);
    });
  }

  get<T>(key: string): Promise<T | undefined> {
    return this.run('readonly', (s) => s.get(key)) as Promise<T | undefined>;
  }

  async put(key: string, value: unknown): Promise<void> {
    // Stored as JSON text so what comes back is exactly what the file storage returns.
    await this.run('readwrite', (s) => s.put(JSON.parse(JSON.stringify(value ?? null)), key));
  }

  async delete(key: string): Promise<void> {
    await this.run('readwrite', (s) => s.delete(key));
  }

  async keys(prefix: string): Promise<string[]> {
    const range = IDBKeyRange.bound(prefix, prefix + '\uffff');
    const keys = (await this.run('readonly', (s) => s.getAllKeys(range))) as IDBValidKey[];
    return keys.map(String).sort();
  }

  async close(): Promise<void> {
    this.db.close();
  }

  private run(mode: IDBTransactionMode, op: (store: IDBObjectStore) => IDBRequest): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const tx = this.db.transaction(STORE, mode);
      const request = op(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(request.result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  }
}
