/**
 * Ids the node makes for messages and events: UUIDs version 7 (RFC 9562), whose first 48
 * bits are the time in milliseconds, instead of version 4 (all random). Every index on such
 * an id (the log's event ids; the message-id index of history, search and the conversation
 * list) then takes new ids at its right edge, where the last insert already was, instead of
 * in a leaf page of its own each: measured (bench/read-model-pages.ts, 100 posts per batch)
 * ~105 pages per batch per index before, ~6 after. The other 74 bits stay random, so ids
 * are still not guessable; what the prefix tells (when) the message's sentAt says already.
 */
import { randomUUID } from 'node:crypto';

/** The time digits of the last millisecond asked for: two ids per post, and many posts per millisecond under load. */
let prefixMs = -1;
let prefix = '';

/** A version-7 UUID for `now` (milliseconds since the epoch). */
export function timeOrderedId(now = Date.now()): string {
  const ms = Math.max(0, Math.floor(now));
  if (ms !== prefixMs) {
    const time = ms.toString(16).padStart(12, '0').slice(-12);
    prefix = `${time.slice(0, 8)}-${time.slice(8)}-7`;
    prefixMs = ms;
  }
  // A v4 UUID's random digits after its version digit, and its variant bits, as they are.
  return prefix + randomUUID().slice(15);
}
