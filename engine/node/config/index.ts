/**
 * The node's configuration: what the CLI needs without running a node (`parley token`, the
 * ops commands' data directory). A folder of its own so those commands load none of the
 * server (Fastify, NATS, Yjs) and start fast.
 */
export { loadConfig, dataDirError, ConfigError, StartupError, MIN_PRODUCTION_SECRET_BYTES, type NodeConfig, type RateLimit, type EventStoreDbSettings } from './config.js';
export { refusePlainHttpInProduction, refusePlainNatsInProduction, type TlsSettings, type ServerTlsFiles, type NatsTlsFiles, type NatsAuth } from './tls-settings.js';
export { authSettings, type AuthSettings, type KeySource } from './auth-settings.js';
export { attachmentSettings, DEFAULT_ATTACHMENT_TYPES, type AttachmentSettings, type S3Settings } from './attachment-settings.js';
