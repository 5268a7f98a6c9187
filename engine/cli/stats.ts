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
import type { EventStore } from '../store/index.js';
import { dataDirFiles, fileSize } from './data-dir.js';
import { eventsUpTo } from './log-scan.js';
import { openLog } from './open-log.js';
import { bytes } from './progress.js';
import { tableExists } from './read-model-tables.js';

const HELP = `usage: parley stats [--data-dir DIR | --nats URLS] [--json]

Prints what the log of DATA_DIR — or, with --nats URLS (or NATS_URL, and PARLEY_STREAM),
the cluster's JetStream stream — holds: streams by kind (conversation, user, node), events
in total and per type, idempotency records and the head position; the sizes of
events.sqlite and readmodels.sqlite and their WAL files when there are such files; and
every read model's checkpoint and lag (events behind the head) in DATA_DIR. --json prints
the same as one JSON object. Safe while nodes run.
`;

export interface Stats {
  dataDir: string;
  /** 'sqlite' | 'jetstream' */
  store: string;
  /** The events file, or the JetStream stream and its servers. */
  log: string;
  headPosition: number;
  events: number;
  idempotencyRecords: number;
  streams: { total: number; byKind: Record<string, number> };
  eventsByType: Record<string, number>;
  files: Record<string, number>;
  projections: Array<{ name: string; version: number | null; checkpoint: number | null; lag: number | null }>;
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
  /** Events after each of the given positions (a read model's lag: JetStream positions are not dense). */
  eventsAfter: Map<number, number>;
};

/** One scan up to the head read first (log-scan.ts), and a count of the keys. */
async function countLog(store: EventStore, positions: number[]): Promise<Counted> {
  const eventsAfter = new Map(positions.map((p) => [p, 0]));
  let idempotencyRecords = 0;
  for await (const _ of store.idempotencyRecords()) idempotencyRecords += 1;
  const headPosition = await store.headPosition();
  const streams = new Set<string>();
  const kinds = new Map<string, number>();
  const types = new Map<string, number>();
  let events = 0;
  for await (const page of eventsUpTo(store, headPosition)) {
    events += page.length;
    for (const e of page) {
      for (const [p, n] of eventsAfter) if (e.position > p) eventsAfter.set(p, n + 1);
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
    headPosition,
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
    out.push(p.checkpoint === null ? `  ${p.name.padEnd(24)} not built yet` : `  ${p.name.padEnd(24)} v${p.version} at position ${p.checkpoint}, lag ${p.lag} events`);
  }
  return out;
}

/** Each read model's checkpoint in the read-model file, by name (none when there is no file yet). */
function readCheckpoints(file: string): Map<string, { version: number; position: number }> {
  const rows = new Map<string, { version: number; position: number }>();
  if (!existsSync(file)) return rows;
  const db = new Database(file, { fileMustExist: true });
  try {
    if (tableExists(db, 'projection_checkpoints')) {
      for (const r of db.prepare('SELECT name, version, position FROM projection_checkpoints').all() as Array<{ name: string; version: number; position: number }>) {
        rows.set(r.name, r);
      }
    }
  } finally {
    db.close();
  }
  return rows;
}

function projectionLags(rows: Map<string, { version: number; position: number }>, eventsAfter: Map<number, number>): Stats['projections'] {
  // Built-in projections first, then any others the file knows (user or extension projections).
  const names = [...new Set([...builtInProjections().map((p) => p.name), ...rows.keys()])];
  return names.map((name) => {
    const r = rows.get(name);
    return { name, version: r?.version ?? null, checkpoint: r?.position ?? null, lag: r ? (eventsAfter.get(r.position) ?? 0) : null };
  });
}
