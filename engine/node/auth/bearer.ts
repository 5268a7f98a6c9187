/**
 * Where a request carries its bearer token, in one place for HTTP, `/v1/ws` and
 * `/v1/sync`: the `Authorization: Bearer …` header everywhere (the scheme is
 * case-insensitive, RFC 7235), and for WebSocket upgrades also `?token=`, since browsers
 * cannot set headers on a WebSocket. Plain HTTP never reads the query: a token in a URL
 * ends up in logs and browser history. The `auth` frame, for `/v1/ws` clients that want
 * the token out of the URL too, is read by authFrameToken.
 */
import type { IncomingHttpHeaders } from 'node:http';

const BEARER = /^Bearer (.*)$/is;

export interface TokenCarrier {
  readonly headers: IncomingHttpHeaders;
  readonly query?: unknown;
}

/** The token of a request, or undefined when it carries none. `upgrade`: a WebSocket upgrade, which may use `?token=`. */
export function bearerOf(request: TokenCarrier, upgrade = false): string | undefined {
  const header = request.headers.authorization;
  if (typeof header === 'string') {
    const m = BEARER.exec(header);
    if (m) return m[1];
  }
  if (!upgrade) return undefined;
  const query = request.query as { token?: unknown } | null | undefined;
  const token = typeof query === 'object' && query !== null && Object.hasOwn(query, 'token') ? query.token : undefined;
  return typeof token === 'string' ? token : undefined;
}

/** The token of an `auth` frame (`{"type":"auth","token":"…"}`), or undefined when the frame is anything else. */
export function authFrameToken(data: Buffer): string | undefined {
  let frame: unknown;
  try {
    frame = JSON.parse(data.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof frame !== 'object' || frame === null) return undefined;
  const { type, token } = frame as { type?: unknown; token?: unknown };
  return type === 'auth' && typeof token === 'string' ? token : undefined;
}
