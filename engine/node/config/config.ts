/**
 * Node configuration from the environment (and CLI flags, which the CLI maps onto the
 * same names). Every knob has a default that suits a developer's laptop; production
 * (NODE_ENV=production) refuses to start with a missing, generated or short (< 32 bytes)
 * JWT secret, unless tokens come from an identity provider (JWKS URL or public key file).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SUBSCRIBE_ENTRIES_PER_FRAME } from '../../../protocol/index.js';
import { SYNC_LIMITS, type SyncLimits } from '../../../sync/limits/index.js';
import { edgeConfig, type EdgeConfig } from './edge-config.js';
import { ConfigError } from './errors.js';
import { int, type Env } from './env-values.js';
import { MAX_PARTITIONS } from '../../store/index.js';
import { tlsSettings, type TlsSettings } from './tls-settings.js';
import { authSettings, type AuthSettings } from './auth-settings.js';
import { attachmentSettings, type AttachmentSettings } from './attachment-settings.js';

export interface RateLimit {
  /** Tokens per second; 0 disables the limit. */
  perSecond: number;
  burst: number;
}

/** TLS and NATS credentials (TlsSettings) are in tls-settings.ts; readiness, metrics access and drain (EdgeConfig) in edge-config.ts. */
export interface NodeConfig extends TlsSettings, EdgeConfig {
  port: number;
  host: string;
  dataDir: string;
  nodeId: string;
  jwtSecret: string;
  /** Where the secret came from, for the start-up log ('none': tokens come from PARLEY_JWKS_URL or a key file). */
  jwtSecretSource: 'env' | 'generated' | 'file' | 'given' | 'none';
  /** How bearer tokens are verified: key source, algorithms, issuer, audience, claims (auth-settings.ts). */
  auth: AuthSettings;
  /**
   * `POST /v1/dev/token` mints a token for any name (the web app's development sign-in).
   * On with a development secret the node made itself (`generated`, or `file` on later
   * runs) or PARLEY_DEV_LOGIN=on; never with NODE_ENV=production.
   */
  devLogin: boolean;
  maxTextBytes: number;
  /** Largest WebSocket frame or HTTP body accepted, in bytes. */
  maxFrameBytes: number;
  /** A subscriber further behind than this many events is told to page over HTTP. */
  catchUpLimit: number;
  rateLimitPerConnection: RateLimit;
  rateLimitPerUser: RateLimit;
  /** HTTP reads (GET) per user, a budget apart from rateLimitPerUser (PARLEY_RATE_READS_PER_USER). */
  rateLimitReadsPerUser: RateLimit;
  logLevel: string;
  /** Seconds a token-less WebSocket may wait before sending its `auth` frame. */
  authTimeoutSeconds: number;
  /** Bytes a socket may have waiting to be sent before live frames turn into paced catch-up (twice this closes it, 4504). */
  maxSendBufferBytes: number;
  /** What one Yjs sync client can make the node hold (PARLEY_SYNC_*; see sync/limits.ts). */
  syncLimits: SyncLimits;
  /** Seconds a socket may stay unable to take its catch-up before it is closed as a slow consumer (4504). */
  slowConsumerSeconds: number;
  /** Seconds between retention sweeps (conversations with a retention period lose expired content). */
  retentionSweepSeconds: number;
  /** Distinct conversations one `subscribe` frame may name, and subscriptions per socket and per user. */
  maxSubscribeEntries: number;
  maxSubscriptionsPerSocket: number;
  maxSubscriptionsPerUser: number;
  /** Sockets one user may hold open on a node, on /v1/ws and on /v1/sync each (PARLEY_MAX_SOCKETS_PER_USER). */
  maxSocketsPerUser: number;
  /** Apply the built-in read models on a worker thread, off the event loop (PARLEY_READ_MODEL_THREAD=on|off, default on). */
  readModelThread: boolean;
  /** The read-model thread runs a PASSIVE WAL checkpoint between batches once the WAL is this large (PARLEY_READ_MODEL_WAL_BYTES). */
  readModelWalBytes: number;
  /** The event log's WAL past which its checkpoint waits for readers to empty it (PARLEY_STORE_WAL_BYTES, default 64 MiB). */
  storeWalBytes: number;
  /** How much lower the read-model thread's scheduling priority is (Linux nice, PARLEY_READ_MODEL_NICE, 0..19). */
  readModelNice: number;
  /** Under load, live batches go to the read-model thread at most once per this many ms, gathered (PARLEY_READ_MODEL_LIVE_MS, default 200; 0: every commit). */
  readModelLiveMs: number;
  /**
   * Offer permessage-deflate on /v1/ws and /v1/sync (PARLEY_WS_DEFLATE=on|off, default off):
   * frames over 1 KiB (catch-up pages, sync state) go compressed, at ~0.57 KiB more heap per
   * idle socket and zlib work per large frame; worth it on slow links, not on a LAN.
   */
  wsDeflate: boolean;
  /** Origins whose browser pages may call the HTTP API (CORS); `*` for any; none by default. */
  corsOrigins: string[];
  /** NATS server URLs; when set, the node keeps its log in JetStream and joins a cluster. */
  natsUrls: string[];
  /** The JetStream stream holding the log (and the prefix of the cluster's subjects). */
  streamName: string;
  /** JetStream replicas of the log (3 in a 3-server NATS cluster); null keeps what the stream has (1 for a new one). */
  replicas: number | null;
  /** How many JetStream streams the log is split into (PARLEY_PARTITIONS, 1..64; 1: the one stream). */
  partitions: number;
  /** How long a NATS outage is absorbed before commands fail with `unavailable`. */
  natsRetryBudgetMs: number;
  /** Seconds between this node's presence heartbeats. */
  heartbeatSeconds: number;
  /** Seconds without heartbeats after which a node counts as dead and its users as offline. */
  presenceExpirySeconds: number;
  /** Set when PARLEY_STORE=eventstoredb: the log lives in EventStoreDB / KurrentDB. */
  eventStoreDb: EventStoreDbSettings | undefined;
  /** Upload limits, download links, orphan collection and storage of attachments (attachment-settings.ts). */
  attachments: AttachmentSettings;
}

/** PARLEY_STORE=eventstoredb: where the log is (EVENTSTORE_URL) and its namespace in that database. */
export interface EventStoreDbSettings {
  /** A connection string (`esdb://…`, `esdb+discover://…`): TLS, credentials, cluster discovery. */
  url: string;
  /** PARLEY_EVENTSTORE_NAMESPACE (default `parley`): streams are `<namespace>-conversation-<id>`. */
  namespace: string;
}

export { ConfigError };

/**
 * The node could not start for a reason outside it (NATS unreachable, a data directory
 * it cannot write, a port in use). The message names what failed, the setting that
 * controls it and what to do, in one line.
 */
export class StartupError extends Error {
  override readonly name = 'StartupError';
  readonly code = 'startup_failed';
}

/** A StartupError for a data directory the node cannot create or write: `cannot <what>: <why>; …`. */
export function dataDirError(dataDir: string, what: string, err: unknown): StartupError {
  const code = (err as { code?: unknown } | null)?.code;
  const reason = err instanceof Error ? err.message : String(err);
  return new StartupError(
    `cannot ${what}: ${reason}${typeof code === 'string' && !reason.includes(code) ? ` (${code})` : ''}; ` +
      `the data directory ${dataDir} must be a writable directory (read-only or full file system?): check DATA_DIR / --data-dir`,
    { cause: err },
  );
}


export function loadConfig(env: Env = process.env, overrides: Partial<NodeConfig> = {}): NodeConfig {
  const dataDir = resolve(overrides.dataDir ?? env.DATA_DIR ?? './data');
  try {
    mkdirSync(dataDir, { recursive: true });
  } catch (err) {
    throw dataDirError(dataDir, `create the data directory ${dataDir}`, err);
  }
  const auth = overrides.auth ?? authSettings(env, (message) => new ConfigError(message));
  const secret = overrides.jwtSecret
    ? { value: overrides.jwtSecret, source: 'given' as const }
    : resolveSecret(env, dataDir, auth);
  if (env.NODE_ENV === 'production' && auth.keySource.kind === 'secret') refuseWeakSecret(secret);
  return {
    port: overrides.port ?? int(env, 'PORT', 8080),
    host: overrides.host ?? env.HOST ?? '0.0.0.0',
    dataDir,
    nodeId: overrides.nodeId ?? env.PARLEY_NODE_ID ?? persistentNodeId(dataDir),
    jwtSecret: secret.value,
    jwtSecretSource: secret.source,
    auth,
    devLogin: overrides.devLogin ?? devLogin(env, secret.source, auth),
    maxTextBytes: overrides.maxTextBytes ?? int(env, 'PARLEY_MAX_TEXT_BYTES', 16 * 1024),
    maxFrameBytes: overrides.maxFrameBytes ?? int(env, 'PARLEY_MAX_FRAME_BYTES', 64 * 1024),
    catchUpLimit: overrides.catchUpLimit ?? int(env, 'PARLEY_CATCH_UP_LIMIT', 50_000),
    rateLimitPerConnection: overrides.rateLimitPerConnection ?? rate(env, 'PARLEY_RATE_PER_CONNECTION', 50),
    ...userRates(env, overrides),
    logLevel: overrides.logLevel ?? env.LOG_LEVEL ?? 'info',
    authTimeoutSeconds: overrides.authTimeoutSeconds ?? int(env, 'PARLEY_AUTH_TIMEOUT_SECONDS', 10),
    maxSendBufferBytes: overrides.maxSendBufferBytes ?? int(env, 'PARLEY_MAX_SEND_BUFFER_BYTES', 4 * 1024 * 1024),
    syncLimits: overrides.syncLimits ?? {
      pendingBytesPerUser: int(env, 'PARLEY_SYNC_PENDING_BYTES_PER_USER', SYNC_LIMITS.pendingBytesPerUser),
      pendingUpdatesPerUser: int(env, 'PARLEY_SYNC_PENDING_UPDATES_PER_USER', SYNC_LIMITS.pendingUpdatesPerUser),
      pendingBytesPerDocument: int(env, 'PARLEY_SYNC_PENDING_BYTES_PER_DOCUMENT', SYNC_LIMITS.pendingBytesPerDocument),
      pendingUpdatesPerDocument: int(env, 'PARLEY_SYNC_PENDING_UPDATES_PER_DOCUMENT', SYNC_LIMITS.pendingUpdatesPerDocument),
      queuedBytesPerSocket: int(env, 'PARLEY_SYNC_QUEUED_BYTES_PER_SOCKET', SYNC_LIMITS.queuedBytesPerSocket),
      awarenessClientsPerSocket: int(env, 'PARLEY_SYNC_AWARENESS_CLIENTS_PER_SOCKET', SYNC_LIMITS.awarenessClientsPerSocket),
      awarenessStateBytes: int(env, 'PARLEY_SYNC_AWARENESS_STATE_BYTES', SYNC_LIMITS.awarenessStateBytes),
    },
    slowConsumerSeconds: overrides.slowConsumerSeconds ?? seconds(env, 'PARLEY_SLOW_CONSUMER_SECONDS', 60),
    retentionSweepSeconds: overrides.retentionSweepSeconds ?? seconds(env, 'PARLEY_RETENTION_SWEEP_SECONDS', 60),
    maxSubscribeEntries: overrides.maxSubscribeEntries ?? Math.max(SUBSCRIBE_ENTRIES_PER_FRAME, int(env, 'PARLEY_MAX_SUBSCRIBE_ENTRIES', SUBSCRIBE_ENTRIES_PER_FRAME)),
    maxSubscriptionsPerSocket: overrides.maxSubscriptionsPerSocket ?? int(env, 'PARLEY_MAX_SUBSCRIPTIONS_PER_SOCKET', 1000),
    maxSubscriptionsPerUser: overrides.maxSubscriptionsPerUser ?? int(env, 'PARLEY_MAX_SUBSCRIPTIONS_PER_USER', 5000),
    maxSocketsPerUser: overrides.maxSocketsPerUser ?? int(env, 'PARLEY_MAX_SOCKETS_PER_USER', 256),
    readModelThread: overrides.readModelThread ?? onOff(env, 'PARLEY_READ_MODEL_THREAD', true),
    readModelWalBytes: overrides.readModelWalBytes ?? int(env, 'PARLEY_READ_MODEL_WAL_BYTES', 4 * 1024 * 1024),
    storeWalBytes: overrides.storeWalBytes ?? int(env, 'PARLEY_STORE_WAL_BYTES', 64 * 1024 * 1024),
    readModelNice: overrides.readModelNice ?? int(env, 'PARLEY_READ_MODEL_NICE', 10),
    readModelLiveMs: overrides.readModelLiveMs ?? int(env, 'PARLEY_READ_MODEL_LIVE_MS', 200),
    wsDeflate: overrides.wsDeflate ?? onOff(env, 'PARLEY_WS_DEFLATE', false),
    corsOrigins: overrides.corsOrigins ?? (env.PARLEY_CORS_ORIGINS ?? '').split(',').map((o) => o.trim()).filter(Boolean),
    ...clusterConfig(env, overrides),
    ...tlsSettings(env, overrides),
    eventStoreDb: overrides.eventStoreDb !== undefined ? overrides.eventStoreDb : eventStoreDbConfig(env, overrides),
    ...edgeConfig(env, overrides),
    attachments: overrides.attachments ?? attachmentSettings(env, secret.value),
  };
}

/**
 * PARLEY_STORE chooses the log: `sqlite` (the default without NATS_URL), `jetstream` (the
 * default with it) or `eventstoredb` (needs EVENTSTORE_URL). A choice that cannot be
 * honoured is refused, so a node never writes its log somewhere unintended.
 */
function eventStoreDbConfig(env: Env, overrides: Partial<NodeConfig>): EventStoreDbSettings | undefined {
  const kind = env.PARLEY_STORE ?? '';
  const url = env.EVENTSTORE_URL ?? '';
  const hasNats = (overrides.natsUrls?.length ?? 0) > 0 || (env.NATS_URL ?? '').trim() !== '';
  if (!['', 'sqlite', 'jetstream', 'eventstoredb'].includes(kind)) {
    throw new ConfigError(`PARLEY_STORE must be sqlite, jetstream or eventstoredb, got "${kind}"`);
  }
  if (kind === 'jetstream' && !hasNats) throw new ConfigError('PARLEY_STORE=jetstream needs NATS_URL (or --nats)');
  // EVENTSTORE_URL alone chooses nothing: PARLEY_STORE is the one switch (a shell that
  // exports the URL for the contract tests must not move every node's log).
  if (kind !== 'eventstoredb') return undefined;
  if (!url) throw new ConfigError('PARLEY_STORE=eventstoredb needs EVENTSTORE_URL (e.g. esdb://localhost:2113?tls=false)');
  if (!/^esdb(\+discover)?:\/\//.test(url)) throw new ConfigError('EVENTSTORE_URL must be an esdb:// or esdb+discover:// connection string');
  if (hasNats) {
    throw new ConfigError('PARLEY_STORE=eventstoredb and NATS_URL cannot be combined yet: nodes over one EventStoreDB each follow its $all feed; unset NATS_URL');
  }
  const namespace = env.PARLEY_EVENTSTORE_NAMESPACE ?? 'parley';
  if (!/^[a-z0-9_]{1,40}$/.test(namespace)) throw new ConfigError(`PARLEY_EVENTSTORE_NAMESPACE must be 1–40 of a–z, 0–9 and "_", got "${namespace}"`);
  return { url, namespace };
}

type ClusterConfig = Pick<
  NodeConfig,
  'natsUrls' | 'streamName' | 'replicas' | 'partitions' | 'natsRetryBudgetMs' | 'heartbeatSeconds' | 'presenceExpirySeconds'
>;

/** The cluster knobs; they only matter when NATS_URL is set. */
function clusterConfig(env: Env, overrides: Partial<NodeConfig>): ClusterConfig {
  const natsUrls =
    overrides.natsUrls ??
    (env.NATS_URL ?? '')
      .split(',')
      .map((u) => u.trim())
      .filter((u) => u.length > 0);
  const streamName = overrides.streamName ?? env.PARLEY_STREAM ?? 'PARLEY_EVENTS';
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(streamName)) {
    throw new ConfigError(`PARLEY_STREAM must be 1–64 letters, digits, "_" or "-", got "${streamName}"`);
  }
  // Unset means "as the stream is": a node started without it must not scale an R3 log down.
  const replicas = overrides.replicas !== undefined ? overrides.replicas : env.PARLEY_REPLICAS ? int(env, 'PARLEY_REPLICAS', 1) : null;
  if (replicas !== null && (replicas < 1 || replicas > 5)) throw new ConfigError(`PARLEY_REPLICAS must be 1..5, got ${replicas}`);
  // The log split over this many JetStream streams (PartitionedJetStreamStore); 1 is the one stream, as always.
  const partitions = overrides.partitions ?? int(env, 'PARLEY_PARTITIONS', 1);
  if (partitions < 1 || partitions > MAX_PARTITIONS) throw new ConfigError(`PARLEY_PARTITIONS must be 1..${MAX_PARTITIONS}, got ${partitions}`);
  const heartbeatSeconds = overrides.heartbeatSeconds ?? seconds(env, 'PARLEY_HEARTBEAT_SECONDS', 5);
  const presenceExpirySeconds = overrides.presenceExpirySeconds ?? seconds(env, 'PARLEY_PRESENCE_EXPIRY_SECONDS', 15);
  if (heartbeatSeconds <= 0) throw new ConfigError('PARLEY_HEARTBEAT_SECONDS must be positive');
  // Two heartbeats may be lost before a live node is taken for dead; beyond 30 s users
  // of a crashed node would stay "online" for longer than the promised bound.
  if (presenceExpirySeconds < 2 * heartbeatSeconds || presenceExpirySeconds > 30) {
    throw new ConfigError(
      `PARLEY_PRESENCE_EXPIRY_SECONDS must be at least twice PARLEY_HEARTBEAT_SECONDS (${heartbeatSeconds}) and at most 30, got ${presenceExpirySeconds}`,
    );
  }
  return {
    natsUrls,
    streamName,
    replicas,
    partitions,
    natsRetryBudgetMs: overrides.natsRetryBudgetMs ?? int(env, 'PARLEY_NATS_RETRY_BUDGET_MS', 15_000),
    heartbeatSeconds,
    presenceExpirySeconds,
  };
}

/**
 * A user's two budgets. Reads default to 200/s (burst 400) unless PARLEY_RATE_PER_USER is
 * 0: that has always meant "no per-user limit", and a deployment or test that says so
 * should not find its reads limited by a setting it has never heard of.
 */
function userRates(env: Env, overrides: Partial<NodeConfig>): Pick<NodeConfig, 'rateLimitPerUser' | 'rateLimitReadsPerUser'> {
  const writes = overrides.rateLimitPerUser ?? rate(env, 'PARLEY_RATE_PER_USER', 100);
  const readsOff = writes.perSecond === 0 && !env.PARLEY_RATE_READS_PER_USER;
  const reads = overrides.rateLimitReadsPerUser ?? (readsOff ? { perSecond: 0, burst: 0 } : rate(env, 'PARLEY_RATE_READS_PER_USER', 200));
  return { rateLimitPerUser: writes, rateLimitReadsPerUser: reads };
}

/** A positive number of seconds; fractions allowed (tests use short heartbeats). */
function seconds(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new ConfigError(`${name} must be a positive number of seconds, got "${raw}"`);
  return n;
}

/** HS256 tokens are as strong as the secret: 32 bytes is the SHA-256 output size RFC 7518 asks for. */
export const MIN_PRODUCTION_SECRET_BYTES = 32;

function refuseWeakSecret(secret: { value: string; source: NodeConfig['jwtSecretSource'] }): void {
  if (secret.source === 'env' || secret.source === 'given') {
    const bytes = Buffer.byteLength(secret.value, 'utf8');
    if (bytes >= MIN_PRODUCTION_SECRET_BYTES) return;
    throw new ConfigError(
      `PARLEY_JWT_SECRET is ${bytes} bytes: NODE_ENV=production needs at least ${MIN_PRODUCTION_SECRET_BYTES} random bytes ` +
        `(e.g. openssl rand -base64 48), or verify your identity provider's tokens with PARLEY_JWKS_URL or PARLEY_JWT_PUBLIC_KEY_FILE`,
    );
  }
}

function resolveSecret(env: Env, dataDir: string, auth: AuthSettings): { value: string; source: 'env' | 'generated' | 'file' | 'none' } {
  if (env.PARLEY_JWT_SECRET) {
    if (Buffer.byteLength(env.PARLEY_JWT_SECRET, 'utf8') < 16) throw new ConfigError('PARLEY_JWT_SECRET must be at least 16 bytes');
    return { value: env.PARLEY_JWT_SECRET, source: 'env' };
  }
  if (env.NODE_ENV === 'production') {
    // Tokens come from the identity provider: the node mints none and needs no secret.
    if (auth.keySource.kind !== 'secret') return { value: '', source: 'none' };
    throw new ConfigError(
      `PARLEY_JWT_SECRET is required when NODE_ENV=production (at least ${MIN_PRODUCTION_SECRET_BYTES} random bytes, e.g. openssl rand -base64 48; ` +
        'a generated development secret is refused), or set PARLEY_JWKS_URL or PARLEY_JWT_PUBLIC_KEY_FILE to verify your identity provider\'s tokens',
    );
  }
  // Development: a secret kept in the data directory, so tokens survive restarts.
  const file = join(dataDir, 'jwt-secret');
  if (existsSync(file)) return { value: readFileSync(file, 'utf8').trim(), source: 'file' };
  const value = randomBytes(32).toString('base64url');
  try {
    writeFileSync(file, value, { mode: 0o600 });
  } catch (err) {
    throw dataDirError(dataDir, `write the development JWT secret ${file} (or set PARLEY_JWT_SECRET)`, err);
  }
  return { value, source: 'generated' };
}

/**
 * Anyone who can reach the node may sign in as anyone through the dev login, so it is on
 * by default only where the secret is the node's own development one; asked for
 * explicitly in production it stops the start rather than be silently ignored.
 */
function devLogin(env: Env, source: NodeConfig['jwtSecretSource'], auth: AuthSettings): boolean {
  const asked = env.PARLEY_DEV_LOGIN === undefined || env.PARLEY_DEV_LOGIN === '' ? undefined : onOff(env, 'PARLEY_DEV_LOGIN', false);
  if (env.NODE_ENV === 'production') {
    if (asked) throw new ConfigError('PARLEY_DEV_LOGIN=on lets anyone sign in as anyone: it is refused when NODE_ENV=production');
    return false;
  }
  if (auth.keySource.kind !== 'secret') {
    // The dev route mints HS256 tokens, which a node verifying its identity provider's keys refuses.
    if (asked) throw new ConfigError('PARLEY_DEV_LOGIN=on needs PARLEY_JWT_SECRET (it mints HS256 tokens); with PARLEY_JWKS_URL or PARLEY_JWT_PUBLIC_KEY_FILE, sign in through your identity provider');
    return false;
  }
  return asked ?? (source === 'generated' || source === 'file');
}

/** A node keeps its id across restarts so presence can clear what it held before a crash. */
function persistentNodeId(dataDir: string): string {
  const file = join(dataDir, 'node-id');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const id = randomUUID().slice(0, 8);
  try {
    writeFileSync(file, id);
  } catch (err) {
    throw dataDirError(dataDir, `write the node id ${file} (or set PARLEY_NODE_ID)`, err);
  }
  return id;
}

function onOff(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (raw === 'on' || raw === 'true' || raw === '1') return true;
  if (raw === 'off' || raw === 'false' || raw === '0') return false;
  throw new ConfigError(`${name} must be on or off, got "${raw}"`);
}


/** "50" → 50/s with a burst of 100; "50:200" → 50/s with a burst of 200; "0" → off. */
function rate(env: Env, name: string, fallback: number): RateLimit {
  const raw = env[name];
  if (raw === undefined || raw === '') return { perSecond: fallback, burst: fallback * 2 };
  const [r, b] = raw.split(':');
  const perSecond = Number(r);
  const burst = b === undefined ? perSecond * 2 : Number(b);
  if (!(perSecond >= 0) || !(burst >= 0)) throw new ConfigError(`${name} must look like "50" or "50:200", got "${raw}"`);
  // A bucket that never holds a whole token refuses everything for ever.
  if (perSecond > 0 && burst < 1) throw new ConfigError(`${name}: a burst below 1 would refuse every request; give at least 1 (got "${raw}")`);
  return { perSecond, burst };
}
