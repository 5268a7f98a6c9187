/**
 * A mistake in how a command was called (unknown flag, bad value, missing argument).
 * `parley` exits 2 for these and 1 for failures of the work itself.
 */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  readonly code = 'usage';
}

/** True for our own usage errors and for the ones node:util parseArgs throws. */
export function isUsageError(err: unknown): boolean {
  if (err instanceof UsageError) return true;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_');
}

/** A non-negative integer flag value, or a UsageError naming the flag. */
export function integerFlag(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0) throw new UsageError(`--${name} must be a non-negative integer, got "${raw}"`);
  return n;
}

/** An ISO 8601 time flag as milliseconds since the epoch, or a UsageError naming the flag. */
export function timeFlag(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const ms = Date.parse(raw);
  if (Number.isNaN(ms)) throw new UsageError(`--${name} must be an ISO 8601 time such as 2026-11-28T15:00:00Z, got "${raw}"`);
  return ms;
}
