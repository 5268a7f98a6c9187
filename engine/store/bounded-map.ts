/**
 * A Map with a ceiling: past `max` entries the oldest goes. The server's caches (stream
 * tips, seq hints, idempotency records, standing versions, released awareness ids) are
 * keyed by what clients choose, so each must be bounded; this is the one way they are.
 *
 * "Oldest" is by the last `set`: setting a key makes it the newest, reading it does not
 * (the caches here are refreshed by what is written, and a read that reordered would cost
 * a delete and an insert on every hit). A Map underneath, never a plain object: a key such
 * as `constructor` or `__proto__` is just a key.
 */
export class BoundedMap<K, V> {
  private readonly entries = new Map<K, V>();
  /**
   * One long-lived iterator that points at the oldest entry. A fresh iterator per eviction
   * starts at the table's first slot and steps over every hole earlier evictions left there
   * until the next rehash (O(max) per `set` once full: 5.7% of the node's main thread under
   * load). A Map iterator survives deletes and inserts, sees entries added after it, and a
   * key set again moves behind it; and every entry it has passed was evicted, so its next
   * key is always the oldest one standing.
   *
   * But an iterator that stands still keeps alive every hash table V8 replaced since it
   * last moved (so that it can follow them): ~50 B per set on a map below its ceiling,
   * ~260 MiB an hour at 500 posts/s in a node. So it is made at the first eviction and
   * dropped after `max` sets without one; a fresh one then costs at most one walk.
   */
  private oldest: IterableIterator<K> | undefined;
  private setsSinceEviction = 0;

  /**
   * @param max entries kept (at least 1)
   * @param onEvict told of each entry dropped for room (not of `delete` or `clear`)
   */
  constructor(
    readonly max: number,
    private readonly onEvict?: (key: K, value: V) => void,
  ) {
    if (!(max >= 1)) throw new RangeError(`a bounded map keeps at least one entry, got ${max}`);
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: K): V | undefined {
    return this.entries.get(key);
  }

  has(key: K): boolean {
    return this.entries.has(key);
  }

  /** Stores `value` as the newest entry, then drops the oldest while past `max`. */
  set(key: K, value: V): this {
    this.entries.delete(key);
    this.entries.set(key, value);
    if (this.entries.size > this.max) {
      this.setsSinceEviction = 0;
      while (this.entries.size > this.max) this.evictOldest();
    } else if (this.oldest !== undefined && ++this.setsSinceEviction > this.max) this.oldest = undefined;
    return this;
  }

  private evictOldest(): void {
    this.oldest ??= this.entries.keys();
    let next = this.oldest.next();
    // Never done while entries stand (see `oldest`); a fresh iterator keeps that a belief, not a bet.
    if (next.done) {
      this.oldest = this.entries.keys();
      next = this.oldest.next();
    }
    const key = next.value as K;
    const value = this.entries.get(key) as V;
    this.entries.delete(key);
    this.onEvict?.(key, value);
  }

  delete(key: K): boolean {
    return this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
    this.oldest = undefined;
  }

  /** Keys, oldest first. */
  keys(): IterableIterator<K> {
    return this.entries.keys();
  }
}
