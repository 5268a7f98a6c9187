/**
 * Attachment settings (PARLEY_ATTACHMENT_*, PARLEY_S3_*): how large and of which types
 * uploads may be, how long download links and unattached uploads live, where the bytes
 * are kept. Uploads are streamed, so the size limit bounds disk, not memory.
 */
import { createHash, randomBytes } from 'node:crypto';
import { ConfigError } from './errors.js';
import { int, type Env } from './env-values.js';

/** S3-compatible object storage for the bytes, instead of the data directory. */
export interface S3Settings {
  bucket: string;
  /** e.g. http://127.0.0.1:9000 for MinIO or a test server; unset: AWS. */
  endpoint: string | undefined;
  region: string;
  accessKeyId: string | undefined;
  secretAccessKey: string | undefined;
  /** Key prefix inside the bucket (default `parley/attachments/`). */
  prefix: string;
  /** Bucket in the path, not the host name (MinIO and most self-hosted servers need it). */
  forcePathStyle: boolean;
}

export interface AttachmentSettings {
  /** Largest upload in bytes (PARLEY_ATTACHMENT_MAX_BYTES, default 25 MiB). */
  maxBytes: number;
  /** Media types accepted (PARLEY_ATTACHMENT_TYPES, comma-separated, `image/*` style wildcards). */
  types: string[];
  /** How long a signed download URL works (PARLEY_ATTACHMENT_LINK_SECONDS, default 300). */
  linkSeconds: number;
  /** The key of download URL signatures (PARLEY_ATTACHMENT_SECRET; default derived from the JWT secret). */
  linkSecret: string;
  /** An upload not attached to a message within this is discarded (PARLEY_ATTACHMENT_ORPHAN_SECONDS, default 86400). */
  orphanSeconds: number;
  /** How often the orphan collector runs, and how many uploads one run discards at most. */
  collectEverySeconds: number;
  collectBatch: number;
  /** An upload that sends no byte for this long is cut (PARLEY_ATTACHMENT_IDLE_SECONDS, default 10). */
  idleSeconds: number;
  /** Uploads in flight per user and per node (PARLEY_ATTACHMENT_UPLOADS_PER_USER / _PER_NODE). */
  uploadsPerUser: number;
  uploadsPerNode: number;
  /** Set when PARLEY_S3_BUCKET is: the bytes go to S3-compatible storage. */
  s3: S3Settings | undefined;
}

export const DEFAULT_ATTACHMENT_TYPES = [
  'image/png',
  'image/jpeg',
  'image/gif',
  'image/webp',
  'application/pdf',
  'text/plain',
  'application/zip',
  'application/octet-stream',
];

export function attachmentSettings(env: Env, jwtSecret: string): AttachmentSettings {
  const types = (env.PARLEY_ATTACHMENT_TYPES ?? '').split(',').map((t) => t.trim().toLowerCase()).filter(Boolean);
  for (const t of types) if (!/^[a-z0-9.+-]+\/([a-z0-9.+-]+|\*)$/.test(t)) throw new ConfigError(`PARLEY_ATTACHMENT_TYPES: "${t}" is not a media type`);
  const secret = env.PARLEY_ATTACHMENT_SECRET;
  if (secret !== undefined && secret !== '' && Buffer.byteLength(secret) < 16) throw new ConfigError('PARLEY_ATTACHMENT_SECRET must be at least 16 bytes');
  return {
    maxBytes: int(env, 'PARLEY_ATTACHMENT_MAX_BYTES', 25 * 1024 * 1024),
    types: types.length > 0 ? types : DEFAULT_ATTACHMENT_TYPES,
    linkSeconds: Math.max(1, int(env, 'PARLEY_ATTACHMENT_LINK_SECONDS', 300)),
    // Derived, not the JWT secret itself: a download link must never help forge a token.
    linkSecret: secret || linkSecretFrom(jwtSecret),
    orphanSeconds: int(env, 'PARLEY_ATTACHMENT_ORPHAN_SECONDS', 86_400),
    collectEverySeconds: Math.max(1, int(env, 'PARLEY_ATTACHMENT_COLLECT_SECONDS', 60)),
    collectBatch: Math.max(1, int(env, 'PARLEY_ATTACHMENT_COLLECT_BATCH', 100)),
    idleSeconds: Math.max(1, int(env, 'PARLEY_ATTACHMENT_IDLE_SECONDS', 10)),
    uploadsPerUser: Math.max(1, int(env, 'PARLEY_ATTACHMENT_UPLOADS_PER_USER', 4)),
    uploadsPerNode: Math.max(1, int(env, 'PARLEY_ATTACHMENT_UPLOADS_PER_NODE', 64)),
    s3: s3Settings(env),
  };
}

/**
 * Derived, not the JWT secret itself: a download link must never help forge a token.
 * Without a JWT secret (tokens from an identity provider) a random one: links then work
 * only on the node that signed them, until PARLEY_ATTACHMENT_SECRET is set on every node.
 */
function linkSecretFrom(jwtSecret: string): string {
  if (jwtSecret === '') return randomBytes(32).toString('base64url');
  return createHash('sha256').update(`parley attachment links\u0000${jwtSecret}`).digest('base64url');
}

function s3Settings(env: Env): S3Settings | undefined {
  const bucket = env.PARLEY_S3_BUCKET ?? '';
  if (bucket === '') return undefined;
  const endpoint = env.PARLEY_S3_ENDPOINT || undefined;
  if (endpoint !== undefined && !/^https?:\/\//.test(endpoint)) throw new ConfigError('PARLEY_S3_ENDPOINT must be an http(s) URL');
  return {
    bucket,
    endpoint,
    region: env.PARLEY_S3_REGION || 'us-east-1',
    accessKeyId: env.PARLEY_S3_ACCESS_KEY_ID || undefined,
    secretAccessKey: env.PARLEY_S3_SECRET_ACCESS_KEY || undefined,
    prefix: env.PARLEY_S3_PREFIX ?? 'parley/attachments/',
    forcePathStyle: (env.PARLEY_S3_FORCE_PATH_STYLE ?? (endpoint ? 'on' : 'off')) === 'on',
  };
}
