/**
 * What the connected nats-server offers beyond 2.9. The adapter requires none of it; it
 * reports it so operators (and later optimisations) can tell what a newer server would
 * enable: multi-filter consumers (2.10) for one consumer over several store streams,
 * per-message TTL (2.11), atomic batch publish (2.12) for multi-message appends.
 */
export interface ServerFeatures {
  multiFilter: boolean;
  perMessageTtl: boolean;
  batchPublish: boolean;
}

function parseVersion(version: string): [number, number, number] {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(version);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : [0, 0, 0];
}

function atLeast(version: string, major: number, minor: number): boolean {
  const [a, b] = parseVersion(version);
  return a > major || (a === major && b >= minor);
}

export function featuresOf(serverVersion: string): ServerFeatures {
  return {
    multiFilter: atLeast(serverVersion, 2, 10),
    perMessageTtl: atLeast(serverVersion, 2, 11),
    batchPublish: atLeast(serverVersion, 2, 12),
  };
}
