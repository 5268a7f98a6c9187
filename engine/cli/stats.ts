/**
 * `parley stats`: what a log holds — streams by kind, events by type, idempotency records,
 * the head position — counted through the EventStore port (one scan), so it works on a
 * cluster's JetStream stream as on a data directory; file sizes where there are files;
 * and each read model's checkpoint and lag behind the head, from DATA_DIR's read models.
 */
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { builtInProjections } from '../../projections/index.js';
import { headCursorOf, partitionsOf, type EventStore, type LogCursor } from '../store/index.js';
import { checkpointCursor } from './checkpoint-cursor.js';
import { dataDirFiles, fileSize } from './data-dir.js';
import { eventsByPartition } from './log-scan.js';
import { openLog } from './open-log.js';
import { bytes } from './progress.js';
import { tableExists } from './read-model-tables.js';

const HELP = `usage: parley stats [--data-dir DIR | --nats URLS] [--json]

Prints what the log of DATA_DIR — or, with --nats URLS (or NATS_URL, and PARLEY_STREAM),
the cluster's JetStream stream — holds: streams by kind (conversation, user, node), events
in total and per type, idempotency records and the head position; the sizes of
events.sqlite and readmodels.sqlite and their WAL files when there are such files; and
every read model's checkpoint and lag (events behind the head) in DATA_DIR. --json prints
the same as one JSON object. On a partitioned log (PARLEY_PARTITIONS > 1) the head and
the checkpoints are cursor tokens (c1.…), the ones parley export, replay and tail take.
Safe while nodes run.
`;

export interface Stats {
  dataDir: string;
  /** 'sqlite' | 'jetstream' */
  store: string;
  /** The events file, or the JetStream stream and its servers. */
  log: string;
  /** The head: a position, or on a partitioned log its cursor token. */
  headPosition: number | string;
  /** How many partitions the log has. */
  partitions: number;
  events: number;
  idempotencyRecords: number;
  streams: { total: number; byKind: Record<string, number> };
  eventsByType: Record<string, number>;
  files: Record<string, number>;
  /** A checkpoint as the read model stores it: a position, or a cursor token on a partitioned log. */
  projections: Array<{ name: string; version: number | null; checkpoint: number | string | null; lag: number | null }>;
}

export async function stats(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { 'data-dir': { type: 'string' }, nats: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) return void process.stdout.write(HELP);
  const files = dataDirFiles(values['data-dir']);
  const { store, where } = await openLog(files, values.nats);
  let s: Stats;
  try {
    const checkpoints = readCheckpoints(files.readModels);
    const counted = await countLog(store, [...checkpoints.values()].map((c) => c.position));
    s = {
      dataDir: files.dir,
      store: store.kind,
      log: where,
      headPosition: counted.headPosition,
      partitions: partitionsOf(store),
      events: counted.events,
      idempotencyRecords: counted.idempotencyRecords,
      streams: counted.streams,
      eventsByType: counted.eventsByType,
      files:
        store.kind === 'sqlite'
          ? Object.fromEntries(['events.sqlite', 'events.sqlite-wal', 'readmodels.sqlite', 'readmodels.sqlite-wal'].map((f) => [f, fileSize(`${files.dir}/${f}`)]))
          : Object.fromEntries(['readmodels.sqlite', 'readmodels.sqlite-wal'].filter((f) => existsSync(`${files.dir}/${f}`)).map((f) => [f, fileSize(`${files.dir}/${f}`)])),
      projections: projectionLags(checkpoints, counted.eventsAfter),
    };
  } finally {
    await store.close();
  }
  if (values.json) return void process.stdout.write(`${JSON.stringify(s, null, 2)}\n`);
  process.stdout.write(`${statsText(s).join('\n')}\n`);
}

type Counted = Pick<Stats, 'headPosition' | 'events' | 'idempotencyRecords' | 'streams' | 'eventsByType'> & {
  /**
   * Events not covered by each of the given checkpoints (a read model's lag: JetStream
   * positions are not dense); a checkpoint of another shape of log (another partition
   * count) has none: the node rebuilds that read model.
   */
  eventsAfter: Map<number | string, number>;
};

/** One scan up to the head read first (log-scan.ts), and a count of the keys. */
async function countLog(store: EventStore, checkpoints: Array<number | string>): Promise<Counted> {
  const cursors = new Map<number | string, LogCursor>();
  for (const c of checkpoints) {
    const cursor = checkpointCursor(store, c);
    if (cursor) cursors.set(c, cursor);
  }
  const eventsAfter = new Map([...cursors.keys()].map((c) => [c, 0]));
  let idempotencyRecords = 0;
  for await (const _ of store.idempotencyRecords()) idempotencyRecords += 1;
  const head = await headCursorOf(store);
  const streams = new Set<string>();
  const kinds = new Map<string, number>();
  const types = new Map<string, number>();
  let events = 0;
  for await (const page of eventsByPartition(store, head)) {
    events += page.length;
    for (const e of page) {
      for (const [c, cursor] of cursors) if (!cursor.covers(e.position)) eventsAfter.set(c, eventsAfter.get(c)! + 1);
      types.set(e.type, (types.get(e.type) ?? 0) + 1);
      if (streams.has(e.stream)) continue;
      streams.add(e.stream);
      const dash = e.stream.indexOf('-');
      const kind = dash > 0 ? e.stream.slice(0, dash) : e.stream;
      kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
    }
  }
  const byKind = [...kinds].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const byType = [...types].sort(([ta, a], [tb, b]) => b - a || (ta < tb ? -1 : ta > tb ? 1 : 0));
  return {
    headPosition: head.partitions === 1 ? head.single : head.encode(),
    events,
    idempotencyRecords,
    streams: { total: streams.size, byKind: Object.fromEntries(byKind) },
    eventsByType: Object.fromEntries(byType),
    eventsAfter,
  };
}

function statsText(s: Stats): string[] {
  const out: string[] = [];
  const kinds = Object.entries(s.streams.byKind).map(([k, n]) => `${n} ${k}`).join(', ');
  const where = s.store === 'sqlite' ? s.dataDir : s.log;
  out.push(`${where}: ${s.events} events in ${s.streams.total} streams (${kinds || 'none'}), head position ${s.headPosition}, ${s.idempotencyRecords} idempotency records`);
  out.push('');
  out.push('events by type:');
  for (const [t, n] of Object.entries(s.eventsByType)) out.push(`  ${t.padEnd(24)} ${String(n).padStart(10)}`);
  out.push('files:');
  for (const [f, n] of Object.entries(s.files)) out.push(`  ${f.padEnd(24)} ${bytes(n).padStart(10)}`);
  out.push(`read models (${s.dataDir}):`);
  for (const p of s.projections) {
    const at = typeof p.checkpoint === 'string' ? `at cursor ${p.checkpoint}` : `at position ${p.checkpoint}`;
    if (p.checkpoint === null) out.push(`  ${p.name.padEnd(24)} not built yet`);
    else if (p.lag === null) out.push(`  ${p.name.padEnd(24)} v${p.version} ${at}: of a log with another partition count (the node rebuilds it on start)`);
    else out.push(`  ${p.name.padEnd(24)} v${p.version} ${at}, lag ${p.lag} events`);
  }
  return out;
}

type Checkpoint = { version: number; position: number | string };

/** Each read model's checkpoint in the read-model file, by name (none when there is no file yet). */
function readCheckpoints(file: string): Map<string, Checkpoint> {
  const rows = new Map<string, Checkpoint>();
  if (!existsSync(file)) return rows;
  const db = new Database(file, { fileMustExist: true });
  try {
    if (tableExists(db, 'projection_checkpoints')) {
      for (const r of db.prepare('SELECT name, version, position FROM projection_checkpoints').all() as Array<{ name: string } & Checkpoint>) {
        rows.set(r.name, r);
      }
    }
  } finally {
    db.close();
  }
  return rows;
}

function projectionLags(rows: Map<string, Checkpoint>, eventsAfter: Map<number | string, number>): Stats['projections'] {
  // Built-in projections first, then any others the file knows (user or extension projections).
  const names = [...new Set([...builtInProjections().map((p) => p.name), ...rows.keys()])];
  return names.map((name) => {
    const r = rows.get(name);
    return { name, version: r?.version ?? null, checkpoint: r?.position ?? null, lag: r ? (eventsAfter.get(r.position) ?? null) : null };
  });
}
