/**
 * Storage in one JSON file, for Node. Node-only: imported by `node.ts`, never by the
 * browser entry.
 *
 * Every change rewrites the file atomically: write a temp file, fsync it, rename it over
 * the old one, fsync the directory. A crash leaves either the old or the new file, never
 * a torn one. Changes made while a write is in flight are batched into the next write,
 * and each `put` resolves only once a write that includes it is durable.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Storage } from './storage.js';

export class FileStorage implements Storage {
  private readonly data: Map<string, unknown>;
  private writing: Promise<void> | undefined;
  private next: Promise<void> | undefined;

  private constructor(readonly file: string, initial: Record<string, unknown>) {
    this.data = new Map(Object.entries(initial));
  }

  /** Opens `file`, creating it (and its directory) on first write. */
  static async open(file: string): Promise<FileStorage> {
    mkdirSync(dirname(file), { recursive: true });
    let initial: Record<string, unknown> = {};
    try {
      initial = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    return new FileStorage(file, initial);
  }

  async get<T>(key: string): Promise<T | undefined> {
    const v = this.data.get(key);
    return v === undefined ? undefined : (structuredClone(v) as T);
  }

  put(key: string, value: unknown): Promise<void> {
    this.data.set(key, JSON.parse(JSON.stringify(value ?? null)));
    return this.flush();
  }

  delete(key: string): Promise<void> {
    this.data.delete(key);
    return this.flush();
  }

  async keys(prefix: string): Promise<string[]> {
    return [...this.data.keys()].filter((k) => k.startsWith(prefix)).sort();
  }

  async close(): Promise<void> {
    await this.writing;
    await this.next;
  }

  private flush(): Promise<void> {
    if (!this.writing) {
      this.writing = this.write().finally(() => (this.writing = undefined));
      return this.writing;
    }
    // A write is in flight with older data: chain exactly one more after it.
    this.next ??= this.writing.catch(() => undefined).then(() => {
      this.next = undefined;
      return this.flush();
    });
    return this.next;
  }

  private async write(): Promise<void> {
    const text = JSON.stringify(Object.fromEntries(this.data));
    const tmp = `${this.file}.${process.pid}.tmp`;
    const handle = await open(tmp, 'w');
    try {
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, this.file);
    const dir = await open(dirname(this.file), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }
}
