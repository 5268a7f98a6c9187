/**
 * The node's configuration and the bearer tokens signed with its secret: what the CLI needs
 * without running a node (`parley token`, the ops commands' data directory). A folder of its
 * own so those commands load none of the server (Fastify, NATS, Yjs) and start fast.
 */
export { loadConfig, dataDirError, ConfigError, StartupError, type NodeConfig, type RateLimit } from './config.js';
export type { TlsSettings, ServerTlsFiles, NatsTlsFiles, NatsAuth } from './tls-settings.js';
export { signToken, verifyToken, type Role, type TokenClaims } from './token.js';
