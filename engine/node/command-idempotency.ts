/**
 * Idempotency keys are scoped to the actor without ambiguity: `${actor.length}:${actor}:
 * ${commandId}` (the length says where the actor ends, whatever either part contains).
 * The old `${actor}:${commandId}` let users `u` and `u:1` share keys. Logs written before
 * keys were length-prefixed still hold old-form keys: one is looked up too, but only when
 * neither the actor nor the command id contains a `:`: then the old key has exactly one
 * `:` and can only have been written by this actor.
 */
import { hash } from 'node:crypto';
import { ParleyError, type Command, type CommandResult } from '../../protocol/index.js';

export interface Outcome {
  result: CommandResult;
  /** True when this command id had been handled before: nothing new was appended. */
  duplicate: boolean;
}

/** The idempotency key of an actor's command id; the length prefix makes it unambiguous. */
export function idempotencyKey(actor: string, commandId: string): string {
  return `${actor.length}:${actor}:${commandId}`;
}

/** The key this command had before keys were length-prefixed, when only this actor can have written it. */
export function legacyKey(actor: string, commandId: string): string | undefined {
  return actor.includes(':') || commandId.includes(':') ? undefined : `${actor}:${commandId}`;
}

export function replay(prior: { fingerprint: string; result: unknown }, fingerprint: string): Outcome {
  if (prior.fingerprint !== fingerprint) throw new ParleyError('idempotency_mismatch');
  return { result: prior.result as CommandResult, duplicate: true };
}

/**
 * A digest of the command that does not depend on the order of its keys. Recorded with
 * the key and compared on every repeat, so it never changes form: SHA-256, base64url, 22
 * characters (one-shot `hash`, not a Hash object per command: it is on the hot path).
 */
export function fingerprintOf(command: Command): string {
  const entries = Object.entries(command).sort(([a], [b]) => (a < b ? -1 : 1));
  return hash('sha256', JSON.stringify(entries), 'base64url').slice(0, 22);
}
