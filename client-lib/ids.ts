/**
 * Client-generated ids. Command ids are the server's idempotency keys, so they must be
 * unique per user forever: random UUIDs (Web Crypto exists in browsers and Node ≥ 19).
 *
 * Local ids stand in for ids the server assigns (a conversation created offline, a
 * message not yet acknowledged): `local:<command id>`. They never leave the client; the
 * outbox rewrites them to server ids once the command that creates the thing is acked.
 */
export function newCommandId(): string {
  return globalThis.crypto.randomUUID();
}

const LOCAL = 'local:';

export function localIdFor(commandId: string): string {
  return LOCAL + commandId;
}

export function isLocalId(id: string): boolean {
  return id.startsWith(LOCAL);
}
