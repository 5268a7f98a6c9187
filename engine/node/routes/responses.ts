/** The error answers every route declares, in the shared error shape (schema `Error`, added by http-server.ts). */
const error = { $ref: 'Error#' } as const;

/** Every error a route can answer. */
export const errorResponses = { 400: error, 401: error, 403: error, 404: error, 409: error, 413: error, 422: error, 429: error, 500: error, 503: error };
