/**
 * Who may say what about awareness in one document room.
 *
 * Awareness (presence, cursors) is keyed by a Yjs client id that the client chooses, so
 * without a rule any member could publish a state under another user's id and every
 * client, the victim's own included, would show it. Here each client id belongs to the
 * socket that first published a state for it, until that socket closes. An update entry
 * for an id another socket owns is dropped, not refused: a stock y-websocket provider
 * echoes every awareness change it receives, other clients' included, so refusing (or
 * closing) would cut off honest clients; the echo changes nothing anyway.
 *
 * A released id (its socket closed) may be taken again by a newer clock, or at the same
 * clock by the same user (a provider reconnecting keeps its client id and clock), never by
 * a stale echo of another user. Bounds: client ids per socket, bytes and nesting depth of a
 * state (relaying a deep state would recurse that deep in every client).
 */
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import type * as awarenessProtocol from 'y-protocols/awareness';
import { BoundedMap } from '../engine/store/index.js';
import { AWARENESS_MAX_DEPTH } from './limits/index.js';

/** One socket's side: the client ids it owns. */
export interface AwarenessHolder {
  readonly userId: string;
  readonly awarenessClients: Set<number>;
}

export interface AwarenessVerdict {
  /** The entries the socket may change, re-encoded; null when none. */
  update: Uint8Array | null;
  /** Why (part of) the frame was refused; null when nothing was. */
  refused: 'invalid_request' | 'limit_exceeded' | null;
  /** Entries dropped because another socket owns their client id. */
  foreign: number;
}

/** Client id → owning socket, plus who owned released ids (bounded). */
export class AwarenessOwners<H extends AwarenessHolder> {
  private readonly owners = new Map<number, H>();
  /**
   * Released id → the user who owned it; only the newest are kept. Awareness keeps a clock
   * per id forever, so a forgotten id's clock goes too unless a state still uses it.
   */
  private readonly released: BoundedMap<number, string>;

  constructor(
    private readonly awareness: awarenessProtocol.Awareness,
    private readonly limits: { clientsPerSocket: number; stateBytes: number; remembered: number },
  ) {
    this.released = new BoundedMap(limits.remembered, (id) => {
      if (!awareness.states.has(id)) awareness.meta.delete(id);
    });
  }

  /** Checks one awareness update from `from`; claims new client ids for it. */
  filter(from: H, update: Uint8Array): AwarenessVerdict {
    const entries: Array<{ id: number; clock: number; json: string }> = [];
    try {
      const decoder = decoding.createDecoder(update);
      const count = decoding.readVarUint(decoder);
      for (let i = 0; i < count; i++) {
        const id = decoding.readVarUint(decoder);
        const clock = decoding.readVarUint(decoder);
        const json = decoding.readVarString(decoder);
        if (Buffer.byteLength(json, 'utf8') > this.limits.stateBytes || depthOf(json) > AWARENESS_MAX_DEPTH) {
          return { update: null, refused: 'limit_exceeded', foreign: 0 };
        }
        JSON.parse(json);
        entries.push({ id, clock, json });
      }
    } catch {
      return { update: null, refused: 'invalid_request', foreign: 0 };
    }
    const kept: typeof entries = [];
    let foreign = 0;
    let refused: AwarenessVerdict['refused'] = null;
    for (const e of entries) {
      const owner = this.owners.get(e.id);
      if (owner === from) {
        kept.push(e);
        continue;
      }
      if (owner !== undefined || e.id === this.awareness.clientID) {
        foreign++;
        continue;
      }
      // Unowned: only a new, non-empty state claims it (an echo of a removal claims nothing).
      if (e.json === 'null' || !this.mayClaim(from, e.id, e.clock)) {
        foreign++;
        continue;
      }
      if (from.awarenessClients.size >= this.limits.clientsPerSocket) {
        refused = 'limit_exceeded';
        continue;
      }
      this.owners.set(e.id, from);
      from.awarenessClients.add(e.id);
      this.released.delete(e.id);
      kept.push(e);
    }
    if (kept.length === 0) return { update: null, refused, foreign };
    const encoder = encoding.createEncoder();
    encoding.writeVarUint(encoder, kept.length);
    for (const e of kept) {
      encoding.writeVarUint(encoder, e.id);
      encoding.writeVarUint(encoder, e.clock);
      encoding.writeVarString(encoder, e.json);
    }
    return { update: encoding.toUint8Array(encoder), refused, foreign };
  }

  /** Frees the ids `holder` owned (their states are removed by the caller); returns them. */
  release(holder: H): number[] {
    const ids = [...holder.awarenessClients];
    holder.awarenessClients.clear();
    for (const id of ids) {
      if (this.owners.get(id) !== holder) continue;
      this.owners.delete(id);
      this.released.set(id, holder.userId);
    }
    return ids;
  }

  private mayClaim(from: H, id: number, clock: number): boolean {
    const meta = this.awareness.meta.get(id);
    if (!meta || clock > meta.clock) return true;
    if (clock < meta.clock || this.released.get(id) !== from.userId) return false;
    // The same user again at the same clock (a reconnect): let Awareness take it as new.
    this.awareness.meta.delete(id);
    return true;
  }
}

/** Deepest nesting of arrays and objects in a JSON text (strings skipped). */
export function depthOf(json: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 91 /* [ */ || c === 123 /* { */) {
      if (++depth > max) max = depth;
    } else if (c === 93 /* ] */ || c === 125 /* } */) depth--;
  }
  return max;
}
