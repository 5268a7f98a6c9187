/**
 * Webhook secrets are sealed before they go into the log: registrations are events, and
 * the log is read by more than the deliverer (the admin feed's analytics consumers,
 * `parley export`, anyone with the data directory or the NATS stream). AES-256-GCM under
 * a key every node of a cluster derives alike: PARLEY_WEBHOOK_KEY when set, else one
 * derived (HKDF-SHA256) from the node's HS256 secret, which the nodes already share.
 * A node with neither (tokens from an identity provider) cannot register webhooks.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { ParleyError } from '../../../protocol/index.js';
import { ConfigError } from '../config/index.js';

const PREFIX = 'sealed.v1.';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** The sealing key, or undefined when the node has nothing to derive one from. */
export function sealKeyOf(env: Record<string, string | undefined>, jwtSecret: string): Buffer | undefined {
  const given = env.PARLEY_WEBHOOK_KEY;
  if (given !== undefined && given !== '') {
    const key = Buffer.from(given, 'base64');
    if (key.length < 32) throw new ConfigError('PARLEY_WEBHOOK_KEY must be the base64 of at least 32 random bytes (openssl rand -base64 32)');
    return Buffer.from(hkdfSync('sha256', key, 'parley', 'webhook secrets', 32));
  }
  if (jwtSecret === '') return undefined;
  return Buffer.from(hkdfSync('sha256', jwtSecret, 'parley', 'webhook secrets', 32));
}

/** `key` or a coded refusal naming the setting. */
export function requireKey(key: Buffer | undefined): Buffer {
  if (key) return key;
  throw new ParleyError('invalid_request', 'Webhook secrets need a key: set PARLEY_WEBHOOK_KEY (the same on every node)');
}

export function seal(key: Buffer, secret: string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const sealed = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
  return PREFIX + Buffer.concat([iv, cipher.getAuthTag(), sealed]).toString('base64url');
}

/** The secret, or undefined when it was sealed under another key (the key changed) or is not sealed at all. */
export function unseal(key: Buffer | undefined, stored: string): string | undefined {
  if (!key || !stored.startsWith(PREFIX)) return undefined;
  const raw = Buffer.from(stored.slice(PREFIX.length), 'base64url');
  if (raw.length <= IV_BYTES + TAG_BYTES) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV_BYTES));
    decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
  } catch {
    return undefined;
  }
}
