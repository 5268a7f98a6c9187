/** Errors of the EventStore port, shared by every adapter. */
export class ConcurrencyError extends Error {
  override readonly name = 'ConcurrencyError';
  readonly code = 'wrong_expected_version';
  constructor(
    readonly stream: string,
    readonly expected: number | 'any',
    readonly actual: number,
    options?: ErrorOptions,
  ) {
    super(`stream ${stream}: expected version ${expected}, actual ${actual}`, options);
  }
}

export class StoreUnavailableError extends Error {
  override readonly name = 'StoreUnavailableError';
  readonly code = 'store_unavailable';
}

export function isConcurrencyError(err: unknown): err is ConcurrencyError {
  return err instanceof ConcurrencyError;
}

export function isStoreUnavailableError(err: unknown): err is StoreUnavailableError {
  return err instanceof StoreUnavailableError;
}
