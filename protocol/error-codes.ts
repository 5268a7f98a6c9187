/**
 * Every error Parley can send, with its HTTP status and default message. Codes are stable
 * API: add, never rename. Plain data, so the schemas (schema/errors.ts) and the error
 * class (errors.ts) both build on it.
 */
export const ERRORS = {
  unauthorized: { status: 401, message: 'A valid bearer token is required' },
  forbidden: { status: 403, message: 'You are not allowed to do this' },
  not_author: { status: 403, message: 'Only the author may do this' },
  message_not_found: { status: 404, message: 'No such message in this conversation' },
  not_found: { status: 404, message: 'No such route' },
  invalid_json: { status: 400, message: 'The body is not valid JSON' },
  invalid_request: { status: 400, message: 'The request does not match its schema' },
  invalid_utf8: { status: 400, message: 'The frame is not valid UTF-8 text' },
  unknown_command: { status: 400, message: 'Unknown command type' },
  text_too_long: { status: 413, message: 'The text is longer than the configured limit' },
  frame_too_large: { status: 413, message: 'The frame is larger than the configured limit' },
  already_member: { status: 409, message: 'The user is already a member' },
  not_member: { status: 409, message: 'The user is not a member' },
  message_deleted: { status: 409, message: 'The message was deleted' },
  seq_out_of_range: { status: 400, message: 'The seq is beyond the end of the conversation' },
  conflict: { status: 409, message: 'Concurrent writes kept conflicting; try again' },
  idempotency_mismatch: { status: 422, message: 'This command id was already used for a different command' },
  rate_limited: { status: 429, message: 'Too many requests; slow down' },
  limit_exceeded: { status: 429, message: 'A per-connection or per-user limit was reached' },
  unavailable: { status: 503, message: 'The event store is unavailable; try again later' },
  internal: { status: 500, message: 'Internal error' },
  last_owner: { status: 409, message: 'The last owner must hand over ownership first' },
  muted: { status: 403, message: 'You are muted in this conversation' },
  banned: { status: 409, message: 'The user is banned from this conversation' },
  attachment_not_found: { status: 404, message: 'No such attachment in this conversation' },
  attachment_in_use: { status: 409, message: 'The attachment is already attached to a message' },
  attachment_too_large: { status: 413, message: 'The file is larger than the configured limit' },
  attachment_type_refused: { status: 415, message: 'This type of file is not accepted' },
  upload_incomplete: { status: 400, message: 'The upload ended before Content-Length bytes arrived, or sent more' },
  message_erased: { status: 409, message: "The message's content was erased or expired" },
  link_expired: { status: 403, message: 'The download link expired or is not valid' },
} as const satisfies Record<string, { status: number; message: string }>;
