/**
 * nats-server versions the adapter must not run a replicated log on.
 *
 * Optimistic concurrency rests on `Nats-Expected-Last-Subject-Sequence`: of two appends
 * decided on the same version, the server must store one and reject the other. On a
 * replicated (R>1) stream, nats-server 2.9.0 up to 2.9.20 checked that header only before
 * proposing to the stream's Raft group, so two concurrent publishes naming the same
 * sequence could both be stored (nats-server#4320: "Serializability of
 * Expected-Last-Subject-Sequence is not guaranteed in clustered stream"). Fixed by
 * nats-server#4319 (commit 244dda8, "Fix bug that would race around check for last
 * sequence per subject"), first released in v2.9.21 and v2.10.0 — read from the release
 * tags that contain the fix, not guessed. The bad check came with the clustering rework of
 * v2.9.0 (commit 212adf5). Measured here: 121 of 300 races stored both on 2.9.10 with R3,
 * 0 of 300 with one server, 0 of 300 on 2.10.27 with R3. A single-replica stream is not
 * affected, so 2.9.x stays allowed there.
 *
 * A pre-release of 2.10.0 (`2.10.0-RC.n`, `-beta`) may predate the fix and counts as
 * affected.
 */
export interface KnownServerBug {
  /** The upstream issue, e.g. 'nats-server#4320'. */
  issue: string;
  summary: string;
  /** Only streams with more replicas than this are affected. */
  affectsReplicasAbove: number;
  /** True when this server version has the bug. */
  affects(version: ServerVersion): boolean;
  /** The versions to upgrade to, for the error message. */
  fixedIn: string;
}

export interface ServerVersion {
  major: number;
  minor: number;
  patch: number;
  prerelease: boolean;
}

/** Parses 'v2.10.27', '2.9.10', '2.10.0-RC.3'; undefined when it is not a version. */
export function parseServerVersion(version: string): ServerVersion | undefined {
  const m = /^v?(\d+)\.(\d+)\.(\d+)(-[0-9A-Za-z.-]+)?/.exec(version.trim());
  if (!m) return undefined;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]), prerelease: Boolean(m[4]) };
}

export const KNOWN_SERVER_BUGS: readonly KnownServerBug[] = [
  {
    issue: 'nats-server#4320',
    summary: 'two concurrent publishes with the same Nats-Expected-Last-Subject-Sequence can both be stored on a replicated stream (fixed by nats-server#4319)',
    affectsReplicasAbove: 1,
    fixedIn: '2.9.21 (2.9 line) or 2.10.0',
    affects: (v) => v.major === 2 && ((v.minor === 9 && v.patch <= 20) || (v.minor === 10 && v.patch === 0 && v.prerelease)),
  },
];

/** The known bugs that make this server unfit for a stream with this many replicas. */
export function serverBugsFor(serverVersion: string, replicas: number): KnownServerBug[] {
  const v = parseServerVersion(serverVersion);
  if (!v) return [];
  return KNOWN_SERVER_BUGS.filter((b) => replicas > b.affectsReplicasAbove && b.affects(v));
}

/** Refused at start: the log would lose or double acknowledged appends on this server. */
export class UnsafeServerVersionError extends Error {
  override readonly name = 'UnsafeServerVersionError';
  readonly code = 'unsafe_server_version';
  constructor(readonly serverVersion: string, readonly replicas: number, readonly bugs: KnownServerBug[]) {
    super(
      `nats-server ${serverVersion} is unsafe for a replicated log (stream replicas ${replicas}): ` +
        bugs.map((b) => `${b.issue}: ${b.summary}; upgrade every server to ≥ ${b.fixedIn}`).join('; ') +
        '. On Debian bookworm install nats-server from trixie (see README, Running a cluster), or run with PARLEY_REPLICAS=1.',
    );
  }
}

/** Throws UnsafeServerVersionError when the server has a bug that breaks this stream. */
export function assertServerSafeFor(serverVersion: string, replicas: number): void {
  const bugs = serverBugsFor(serverVersion, replicas);
  if (bugs.length > 0) throw new UnsafeServerVersionError(serverVersion, replicas, bugs);
}
