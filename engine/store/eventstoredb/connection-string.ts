/**
 * EVENTSTORE_URL's options, checked before the client sees the string.
 *
 * `@eventstore/db-client` 6 takes `?key=value` options (keys case-, `-`- and `_`-blind)
 * and, for three of them, would do harm Parley cannot undo afterwards:
 *
 * - an option it does not know (a typo: `?tsl=false`) and `tlsVerifyCert=false` (which it
 *   ignores: it always verifies the server's certificate) make it print the whole string,
 *   password included, to stderr with console.warn, past the node's log redaction;
 * - `throwOnAppendFailure=false` makes an append refused for its expected revision resolve
 *   as `{ success: false }`, which the adapter would take for a write that happened.
 *
 * So those are refused here with a coded error that names the option, never the string.
 * Credentials are set aside first with the client's own grammar (`user:password@` right
 * after the scheme), so a `?` or `&` in a password is not read as an option.
 */
import { EventStoreDbError } from './errors.js';

/** The options the client knows, as it compares them (lower case, without `-` and `_`). */
const KNOWN = new Set([
  'usercertfile',
  'userkeyfile',
  'maxdiscoverattempts',
  'connectionname',
  'defaultdeadline',
  'discoveryinterval',
  'gossiptimeout',
  'nodepreference',
  'tls',
  'tlsverifycert',
  'tlscafile',
  'throwonappendfailure',
  'keepaliveinterval',
  'keepalivetimeout',
]);

export interface ConnectionOption {
  /** As the client compares it: lower case, without `-` and `_`. */
  key: string;
  value: string;
}

/** The `?key=value&…` options of a connection string, keys flattened as the client does. */
export function connectionOptionsOf(url: string): ConnectionOption[] {
  const afterScheme = url.replace(/^\s*[^:]+:\/\//, '');
  const afterCredentials = afterScheme.replace(/^[^:]+:[^@]+@/, '');
  const query = afterCredentials.indexOf('?');
  if (query < 0) return [];
  return afterCredentials
    .slice(query + 1)
    .split(/[&?]/)
    .filter((pair) => pair.length > 0)
    .map((pair) => {
      const eq = pair.indexOf('=');
      const key = eq < 0 ? pair : pair.slice(0, eq);
      return { key: key.trim().toLowerCase().replace(/[_-]/g, ''), value: eq < 0 ? '' : pair.slice(eq + 1).trim() };
    });
}

/** Refuses an EVENTSTORE_URL whose options the client would leak or misapply (see above). */
export function checkConnectionOptions(url: string): void {
  for (const { key, value } of connectionOptionsOf(url)) {
    if (!KNOWN.has(key)) {
      throw new EventStoreDbError(
        `EVENTSTORE_URL has an option the EventStoreDB client does not know ("${key}"); the known ones are ${[...KNOWN].join(', ')} (case, "-" and "_" do not matter)`,
      );
    }
    if (key === 'tlsverifycert' && value === 'false') {
      throw new EventStoreDbError(
        'EVENTSTORE_URL has tlsVerifyCert=false, which the EventStoreDB client ignores (it always verifies the certificate): give the CA of a self-signed server with tlsCAFile=/path/to/ca.crt (or NODE_EXTRA_CA_CERTS) instead',
      );
    }
    if (key === 'throwonappendfailure' && value === 'false') {
      throw new EventStoreDbError(
        'EVENTSTORE_URL has throwOnAppendFailure=false: Parley needs a refused append (wrong expected revision) to fail, not to resolve; remove the option',
      );
    }
  }
}
