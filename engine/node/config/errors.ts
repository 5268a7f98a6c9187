/** A setting that is missing, malformed or unsafe: the message names the setting and what to set. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'invalid_config';
}
