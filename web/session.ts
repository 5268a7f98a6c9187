/**
 * Who is signed in, and the token the client uses. Three ways in:
 * - an embedding app passes a token in the URL (`#token=<jwt>`, removed from the address
 *   bar at once) or later by `postMessage({ type: 'parley-token', token })` from its window;
 * - in development, a name: the node mints a token at POST /v1/dev/token (404 when off).
 * The session is kept in localStorage so a reload, also offline, signs in again at once.
 */
export interface Session {
  userId: string;
  token: string;
  /** Minted by the dev route: renewed from it when it nears its end. */
  dev: boolean;
}

const KEY = 'parley.session';
const RENEW_BEFORE_S = 300;

/** The `sub` and `exp` of a JWT, unverified (the node verifies; the page only needs the name). */
export function claimsOf(token: string): { sub: string; exp: number } | undefined {
  try {
    const part = token.split('.')[1] ?? '';
    const json = atob(part.replace(/-/g, '+').replace(/_/g, '/'));
    const claims = JSON.parse(new TextDecoder().decode(Uint8Array.from(json, (c) => c.charCodeAt(0)))) as { sub?: unknown; exp?: unknown };
    return typeof claims.sub === 'string' && typeof claims.exp === 'number' ? { sub: claims.sub, exp: claims.exp } : undefined;
  } catch {
    return undefined;
  }
}

export function saved(): Session | undefined {
  try {
    const s = JSON.parse(localStorage.getItem(KEY) ?? 'null') as Session | null;
    return s && typeof s.userId === 'string' && typeof s.token === 'string' ? s : undefined;
  } catch {
    return undefined;
  }
}

export function save(session: Session): void {
  localStorage.setItem(KEY, JSON.stringify(session));
}

export function forget(): void {
  localStorage.removeItem(KEY);
}

/** A token handed over in the URL fragment (never sent to a server, unlike a query). */
export function fromFragment(): Session | undefined {
  const token = new URLSearchParams(location.hash.slice(1)).get('token');
  if (!token) return undefined;
  history.replaceState(null, '', location.pathname + location.search);
  const claims = claimsOf(token);
  return claims ? { userId: claims.sub, token, dev: false } : undefined;
}

export class DevLoginError extends Error {
  override readonly name = 'DevLoginError';
}

/** Asks the node for a development token; says so plainly when dev sign-in is off. */
export async function devSignIn(userId: string): Promise<Session> {
  const res = await fetch('/v1/dev/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ userId }) });
  if (res.status === 404) throw new DevLoginError('Sign-in by name is off on this node: open this page from your app with a token.');
  const body = (await res.json().catch(() => ({}))) as { token?: string; message?: string };
  if (!res.ok || !body.token) throw new DevLoginError(body.message ?? `The node refused (${res.status})`);
  return { userId, token: body.token, dev: true };
}

/**
 * The client's token provider: the current token, renewed first when it is a dev token
 * near its end and the node is reachable. Tokens from an embedding app arrive by
 * postMessage; `current` always holds the newest.
 */
export function tokenProvider(session: Session): { get(): Promise<string>; replace(token: string): void } {
  let current = session;
  return {
    async get() {
      const exp = claimsOf(current.token)?.exp ?? 0;
      if (current.dev && exp - Date.now() / 1000 < RENEW_BEFORE_S) {
        current = await devSignIn(current.userId).catch(() => current);
        save(current);
      }
      return current.token;
    },
    replace(token) {
      if (claimsOf(token)?.sub !== current.userId) return;
      current = { ...current, token };
      save(current);
    },
  };
}
