/**
 * The y-webrtc signaling wire format (y-webrtc 10, its `bin/server.js` and `SignalingConn`):
 * JSON text frames over one WebSocket that a browser shares between all its rooms.
 *
 *   client → node  { type: 'subscribe',   topics: string[] }   join rooms (topic = room name)
 *                  { type: 'unsubscribe', topics: string[] }   leave rooms
 *                  { type: 'publish', topic: string, data }    relay `data` to the room
 *                  { type: 'ping' }                            keep-alive
 *   node → client  { type: 'publish', topic, data, clients }   a relayed frame, `clients`
 *                                                              = how many got it
 *                  { type: 'pong' }
 *                  { type: 'refused', topic, code }            Parley's own: a topic the
 *                                                              caller may not join (stock
 *                                                              clients ignore unknown types)
 *
 * `data` is opaque to the node (announce / WebRTC offer, answer and candidates, encrypted
 * when the room has a password); it is relayed as the client sent it, within the frame
 * size bound. Everything here is parsed as hostile: anything not exactly one of the four
 * shapes is `null`, and the caller counts it as a refused frame.
 */

export type SignalingFrame =
  | { type: 'subscribe'; topics: string[] }
  | { type: 'unsubscribe'; topics: string[] }
  | { type: 'publish'; topic: string; data: unknown }
  | { type: 'ping' };

/** The frame, or null when the text is not one a y-webrtc client sends (or names more than `maxTopics`). */
export function parseSignalingFrame(text: string, maxTopics: number): SignalingFrame | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const frame = value as Record<string, unknown>;
  switch (frame.type) {
    case 'subscribe':
    case 'unsubscribe': {
      const topics = frame.topics ?? [];
      if (!Array.isArray(topics) || topics.length > maxTopics || !topics.every((t) => typeof t === 'string')) return null;
      return { type: frame.type, topics: [...new Set(topics as string[])] };
    }
    case 'publish':
      if (typeof frame.topic !== 'string') return null;
      return { type: 'publish', topic: frame.topic, data: frame.data };
    case 'ping':
      return { type: 'ping' };
    default:
      return null;
  }
}

/** A relayed publish, as y-webrtc's own server sends it (with the receiver count). */
export function publishFrame(topic: string, data: unknown, clients: number): string {
  return JSON.stringify({ type: 'publish', topic, data, clients });
}

export const PONG_FRAME = JSON.stringify({ type: 'pong' });

/** Tells the client a topic was not joined (or was left for it) and why. */
export function refusedFrame(topic: string, code: string): string {
  return JSON.stringify({ type: 'refused', topic, code });
}
