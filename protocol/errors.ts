/**
 * Every error Parley can send (the table: error-codes.ts), shared by the server and
 * client-lib. An HTTP error body and a WebSocket `error` frame carry the same
 * `{ code, message }`; the HTTP status is the one in the table.
 */
import type { Static } from '@sinclair/typebox';
import { ERRORS } from './error-codes.js';
import type * as S from './schema/index.js';

export { ERRORS };

export type ErrorCode = keyof typeof ERRORS;

/** The body of every error response and the payload of every error frame (schema/errors.ts). */
export type ErrorBody = Static<typeof S.ErrorBody>;

/** An error that carries one of the shared codes; thrown by the server, rebuilt by clients. */
export class ParleyError extends Error {
  override readonly name = 'ParleyError';
  readonly code: ErrorCode;
  readonly status: number;
  constructor(code: ErrorCode, message?: string, options?: ErrorOptions) {
    super(message ?? ERRORS[code].message, options);
    this.code = code;
    this.status = ERRORS[code].status;
  }
  toBody(): ErrorBody {
    return { code: this.code, message: this.message };
  }
}

export function isParleyError(err: unknown): err is ParleyError {
  return err instanceof ParleyError;
}

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERRORS, code);
}
