/**
 * What `parley import` must redact. A log exported from a store that keeps every message
 * as written (JetStream) holds an erased or expired message's original content next to
 * the MessageErased / MessagesExpired that ended it. The embedded store rewrites content
 * in the append that erases (AppendOptions.patches) and trusts its stored events on read,
 * so an import must write those content events already redacted, through the domain's
 * one `redactEvent`: the imported log comes out as if the erasures had happened there.
 *
 * The check pass (`noteErasure`, every event) collects the erased message ids and each
 * conversation's expiry (the largest throughSeq); the load pass (`redactImported`) asks
 * per event. Memory: the ids of erased and expired messages and one number per stream
 * with an expiry — never the file's events or content.
 */
import { contentMessageId, redactEvent } from '../domain/index.js';
import type { StoredEvent } from '../store/index.js';

export class ImportErasures {
  /** Per stream, the ids of messages whose content must not be imported. */
  private readonly erased = new Map<string, Set<string>>();
  /** Per stream, the largest MessagesExpired throughSeq: posts at or before it expired. */
  private readonly expiredThrough = new Map<string, number>();

  /** Check pass: remembers what this event erases. */
  noteErasure(e: Pick<StoredEvent, 'stream' | 'type' | 'data'>): void {
    const data = e.data as { messageId?: unknown; throughSeq?: unknown } | null;
    if (e.type === 'MessageErased' && typeof data?.messageId === 'string') {
      this.erasedIn(e.stream).add(data.messageId);
    } else if (e.type === 'MessagesExpired' && typeof data?.throughSeq === 'number') {
      this.expiredThrough.set(e.stream, Math.max(this.expiredThrough.get(e.stream) ?? 0, data.throughSeq));
    }
  }

  /**
   * Load pass, in the file's order: the event as the embedded store would hold it. An
   * expired post is known by its seq; its id is kept then, so its edits (later in the
   * stream, possibly past throughSeq) are redacted too.
   */
  redactImported<E extends Pick<StoredEvent, 'stream' | 'seq' | 'type' | 'data'>>(e: E): E {
    const messageId = contentMessageId(e);
    if (messageId === undefined) return e;
    const erased = this.erased.get(e.stream);
    if (erased?.has(messageId)) return redactEvent(e);
    if (e.type === 'MessagePosted' && e.seq <= (this.expiredThrough.get(e.stream) ?? 0)) {
      this.erasedIn(e.stream).add(messageId);
      return redactEvent(e);
    }
    return e;
  }

  private erasedIn(stream: string): Set<string> {
    let set = this.erased.get(stream);
    if (!set) this.erased.set(stream, (set = new Set()));
    return set;
  }
}
