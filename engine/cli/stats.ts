/**
 * `parley stats`: what is in a data directory: streams by kind, events by type, file
 * sizes, the head position, and each read model's checkpoint and lag behind the head.
 */
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { builtInProjections } from '../../projections/index.js';
import { dataDirFiles, fileSize, openExistingStore } from './data-dir.js';
import { bytes } from './progress.js';
import { tableExists } from './read-model-tables.js';

const HELP = `usage: parley stats [--data-dir DIR] [--json]

Prints what DATA_DIR holds: streams by kind (conversation, user, node), events in total
and per type, idempotency records, sizes of events.sqlite and readmodels.sqlite and their
WAL files, the head position, and every read model's checkpoint and lag (events behind the
head). --json prints the same as one JSON object. Safe while the node runs.
`;

export interface Stats {
  dataDir: string;
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
    options: { 'data-dir': { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) return void process.stdout.write(HELP);
  const files = dataDirFiles(values['data-dir']);
  const store = openExistingStore(files);
  let s: Stats;
  try {
    const db = store.db;
    db.exec('BEGIN');
    try {
      const head = (db.prepare('SELECT max(position) FROM events').pluck().get() as number | null) ?? 0;
      const kinds = db
        .prepare(
          `SELECT CASE WHEN instr(stream, '-') > 0 THEN substr(stream, 1, instr(stream, '-') - 1) ELSE stream END AS kind,
                  count(DISTINCT stream) AS n
             FROM events GROUP BY kind ORDER BY kind`,
        )
        .all() as Array<{ kind: string; n: number }>;
      const types = db.prepare('SELECT type, count(*) AS n FROM events GROUP BY type ORDER BY n DESC, type').all() as Array<{ type: string; n: number }>;
      s = {
        dataDir: files.dir,
        headPosition: head,
        events: db.prepare('SELECT count(*) FROM events').pluck().get() as number,
        idempotencyRecords: db.prepare('SELECT count(*) FROM idempotency').pluck().get() as number,
        streams: { total: kinds.reduce((t, k) => t + k.n, 0), byKind: Object.fromEntries(kinds.map((k) => [k.kind, k.n])) },
        eventsByType: Object.fromEntries(types.map((t) => [t.type, t.n])),
        files: Object.fromEntries(
          ['events.sqlite', 'events.sqlite-wal', 'readmodels.sqlite', 'readmodels.sqlite-wal'].map((f) => [f, fileSize(`${files.dir}/${f}`)]),
        ),
        projections: readCheckpoints(files.readModels, head),
      };
    } finally {
      db.exec('COMMIT');
    }
  } finally {
    await store.close();
  }
  if (values.json) return void process.stdout.write(`${JSON.stringify(s, null, 2)}\n`);
  const out: string[] = [];
  const kinds = Object.entries(s.streams.byKind).map(([k, n]) => `${n} ${k}`).join(', ');
  out.push(`${s.dataDir}: ${s.events} events in ${s.streams.total} streams (${kinds || 'none'}), head position ${s.headPosition}, ${s.idempotencyRecords} idempotency records`);
  out.push('');
  out.push('events by type:');
  for (const [t, n] of Object.entries(s.eventsByType)) out.push(`  ${t.padEnd(24)} ${String(n).padStart(10)}`);
  out.push('files:');
  for (const [f, n] of Object.entries(s.files)) out.push(`  ${f.padEnd(24)} ${bytes(n).padStart(10)}`);
  out.push('read models:');
  for (const p of s.projections) {
    out.push(p.checkpoint === null ? `  ${p.name.padEnd(24)} not built yet` : `  ${p.name.padEnd(24)} v${p.version} at position ${p.checkpoint}, lag ${p.lag} events`);
  }
  process.stdout.write(`${out.join('\n')}\n`);
}

function readCheckpoints(file: string, head: number): Stats['projections'] {
  const rows = new Map<string, { version: number; position: number }>();
  if (existsSync(file)) {
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
  }
  // Built-in projections first, then any others the file knows (user or extension projections).
  const names = [...new Set([...builtInProjections().map((p) => p.name), ...rows.keys()])];
  return names.map((name) => {
    const r = rows.get(name);
    return { name, version: r?.version ?? null, checkpoint: r?.position ?? null, lag: r ? Math.max(0, head - r.position) : null };
  });
}
