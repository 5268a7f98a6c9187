/** The node: configuration, tokens and `startNode`. */
export { startNode, type ParleyNode, type StartNodeOptions } from './node.js';
export { loadConfig, ConfigError, StartupError, type NodeConfig } from './config/index.js';
export { signToken, signClaims, createTokenVerifier, type TokenClaims, type TokenVerifier } from './auth/index.js';
export type { NodeContext, NodeExtension } from './extension.js';
export type { CommandHandler, DecidedEvent } from './command-handler.js';
export type { Metrics } from './metrics.js';
