/**
 * Where a synced document keeps its state between runs, so edits made offline survive a
 * restart and merge on the next connect. The client's own storage (IndexedDB in browsers,
 * a file in Node) backs it through `documentStorageOn`.
 */
export interface DocumentStorage {
  /** The stored state of the document (a Yjs update), or undefined. */
  get(docName: string): Promise<Uint8Array | undefined>;
  /** Replaces the stored state; durable once the promise resolves. */
  set(docName: string, state: Uint8Array): Promise<void>;
}

/** The slice of client-lib's key/value Storage this needs (JSON values). */
export interface KeyValueStorage {
  get<T>(key: string): Promise<T | undefined>;
  put(key: string, value: unknown): Promise<void>;
}

/** Document states in a JSON key/value store, base64-encoded under `yjs:<docName>`. */
export function documentStorageOn(storage: KeyValueStorage, prefix = 'yjs:'): DocumentStorage {
  return {
    get: async (name) => {
      const text = await storage.get<string>(prefix + name);
      return text === undefined ? undefined : fromBase64(text);
    },
    set: (name, state) => storage.put(prefix + name, toBase64(state)),
  };
}

/** Keeps states in memory (tests; apps that need no restarts). */
export class MemoryDocumentStorage implements DocumentStorage {
  // Typed out: inferred, it is declared as `Uint8Array<ArrayBufferLike>`, which TypeScript before 5.7 cannot read.
  readonly states: Map<string, Uint8Array> = new Map();
  async get(name: string): Promise<Uint8Array | undefined> {
    return this.states.get(name);
  }
  async set(name: string, state: Uint8Array): Promise<void> {
    this.states.set(name, state.slice());
  }
}

function toBase64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

function fromBase64(text: string): Uint8Array {
  const s = atob(text);
  const bytes = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) bytes[i] = s.charCodeAt(i);
  return bytes;
}
