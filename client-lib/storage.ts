/**
 * Where the client keeps what must survive a restart: the outbox, each conversation's
 * messages and last seq, the cached conversation list, and extension state (Yjs).
 *
 * A deliberately small async key/value contract so IndexedDB, a file, or an app's own
 * store can back it. Values are JSON-serializable. A `put` that resolved is durable.
 */
export interface Storage {
  get<T>(key: string): Promise<T | undefined>;
  put(key: string, value: unknown): Promise<void>;
  delete(key: string): Promise<void>;
  /** Keys starting with `prefix`, sorted. */
  keys(prefix: string): Promise<string[]>;
  close(): Promise<void>;
}

/** Keeps everything in memory: for tests and for apps that do not need offline restarts. */
export class MemoryStorage implements Storage {
  private readonly data = new Map<string, string>();

  async get<T>(key: string): Promise<T | undefined> {
    const v = this.data.get(key);
    return v === undefined ? undefined : (JSON.parse(v) as T);
  }

  async put(key: string, value: unknown): Promise<void> {
    this.data.set(key, JSON.stringify(value));
  }

  async delete(key: string): Promise<void> {
    this.data.delete(key);
  }

  async keys(prefix: string): Promise<string[]> {
    return [...this.data.keys()].filter((k) => k.startsWith(prefix)).sort();
  }

  async close(): Promise<void> {}
}

/** A view of `storage` whose keys all start with `prefix` (for extensions). */
export function namespaced(storage: Storage, prefix: string): Storage {
  return {
    get: (key) => storage.get(prefix + key),
    put: (key, value) => storage.put(prefix + key, value),
    delete: (key) => storage.delete(prefix + key),
    keys: async (p) => (await storage.keys(prefix + p)).map((k) => k.slice(prefix.length)),
    close: async () => {},
  };
}
