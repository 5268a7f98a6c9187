/**
 * Spreading the partitions' stream leaders over the servers. Each stream's Raft leader
 * takes all of its partition's writes; JetStream places leaders where it likes, and two
 * partitions led by one server halve what partitioning buys. So after the streams exist,
 * a stream whose leader already leads another partition is asked to step down (the new
 * leader is one of its other replicas, chosen by the server) while some server leads
 * none — a few bounded rounds, best effort: a leader change costs appends a retry, and
 * nodes that start together must not keep moving leaders.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { JetStreamManager } from '@nats-io/jetstream';

const ROUNDS = 8;

/** The leader of each stream ('' while it has none). */
export async function leadersOf(jsm: JetStreamManager, streams: string[]): Promise<string[]> {
  return Promise.all(streams.map(async (s) => (await jsm.streams.info(s)).cluster?.leader ?? ''));
}

/** Servers that host a replica of some stream but lead none of them. */
async function idleServers(jsm: JetStreamManager, streams: string[], leaders: string[]): Promise<string[]> {
  const hosts = new Set<string>();
  for (const s of streams) {
    const cluster = (await jsm.streams.info(s)).cluster;
    for (const r of cluster?.replicas ?? []) hosts.add(r.name);
    if (cluster?.leader) hosts.add(cluster.leader);
  }
  return [...hosts].filter((h) => !leaders.includes(h));
}

/** Streams whose leader also leads an earlier stream of the list. */
function sharingLeader(streams: string[], leaders: string[]): string[] {
  return streams.filter((_, i) => leaders[i] !== '' && leaders.indexOf(leaders[i]!) < i);
}

/** Moves leaders apart (see the header); returns the leaders it ended with. */
export async function spreadLeaders(nc: NatsConnection, jsm: JetStreamManager, streams: string[], timeoutMs: number): Promise<string[]> {
  let leaders = await leadersOf(jsm, streams);
  for (let round = 0; round < ROUNDS; round++) {
    const crowded = sharingLeader(streams, leaders);
    if (crowded.length === 0 || (await idleServers(jsm, streams, leaders)).length === 0) break;
    await Promise.all(crowded.map((s) => nc.request(`$JS.API.STREAM.LEADER.STEPDOWN.${s}`, undefined, { timeout: timeoutMs })));
    leaders = await electedLeaders(jsm, streams, leaders, crowded, timeoutMs);
  }
  return leaders;
}

/** Waits (bounded) until each stream that stepped down has a new leader. */
async function electedLeaders(jsm: JetStreamManager, streams: string[], before: string[], moved: string[], timeoutMs: number): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const now = await leadersOf(jsm, streams);
    const settled = streams.every((s, i) => !moved.includes(s) || (now[i] !== '' && now[i] !== before[i]));
    if (settled || Date.now() > deadline) return now;
    await new Promise((r) => setTimeout(r, 100));
  }
}
