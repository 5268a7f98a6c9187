/**
 * Yjs: Parley's sync endpoint (every accepted update appended to the log, fsync'd, before
 * it is forwarded) against the classic y-websocket server (in memory, no persistence).
 *
 * 1. Offline reconnect: a client made `edits` small inserts while offline and reconnects;
 *    time until an observer on the same document holds them all (the median of `rounds`,
 *    alternating systems). Parley forwards only what it has stored, so this is the time
 *    until the server accepted and stored the edits.
 * 2. Update stream: `docs` × `writersPerDoc` clients making single-character edits, each
 *    keeping `window` in flight; updates/s the server accepts (and Parley stores), counted
 *    by one observer socket per document.
 */
import { startLoad, startParley, startPeer, type LoadChild, type Server } from '../procs.js';
import { addRatios, progressLine, type Row, type ScenarioResult } from '../report.js';
import type { RunOptions } from '../main.js';
import { topSelfTime } from '../profile.js';
import { meanGroupCommit } from '../node-metrics.js';

export const name = 'yjs';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

type System = 'parley' | 'y-websocket';

export async function run(opts: RunOptions): Promise<Omit<ScenarioResult, 'seconds'>> {
  const knobs = opts.quick
    ? { edits: 1000, insertChars: 3, rounds: 3, docs: 10, writersPerDoc: 2, window: 4, warmupMs: 1000, durationMs: 3000, loadProcesses: 2 }
    : { edits: 1000, insertChars: 3, rounds: 7, docs: 50, writersPerDoc: 2, window: 4, warmupMs: 2000, durationMs: 10_000, loadProcesses: 2 };
  const notes: string[] = [];
  const rows: Row[] = [];
  const servers = new Map<System, Server>();
  const loads: LoadChild[] = [];
  const profileDir = opts.profileDir;
  try {
    progressLine('starting servers');
    servers.set('parley', await startParley(profileDir ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] } : {}));
    servers.set('y-websocket', await startPeer('y-websocket-server', 'y-websocket'));
    for (let i = 0; i < knobs.loadProcesses; i++) loads.push(startLoad('yjs'));
    const systems: System[] = ['parley', 'y-websocket'];

    const offline = new Map<System, number[]>(systems.map((s) => [s, []]));
    let updateBytes = 0;
    for (let i = 0; i < knobs.rounds; i++) {
      for (const system of systems) {
        progressLine(`offline reconnect ${i + 1}/${knobs.rounds}: ${system}`);
        const r = await loads[0]!.request<{ seconds: number; updateBytes: number }>(
          { cmd: 'offline', system, url: servers.get(system)!.url, edits: knobs.edits, insertChars: knobs.insertChars, seed: i + 1 },
          90_000,
        );
        offline.get(system)!.push(r.seconds);
        updateBytes = r.updateBytes;
      }
    }
    const figure1 = `offline ${knobs.edits} edits: reconnect → stored`;
    for (const system of systems) rows.push({ system, figure: figure1, value: median(offline.get(system)!) * 1000, unit: 'ms' });
    addRatios(rows, figure1);
    notes.push(
      `offline reconnect: ${knobs.edits} inserts of ${knobs.insertChars} chars at random positions, ${updateBytes} bytes as one Yjs update; ` +
        `median of ${knobs.rounds} (ms) parley ${offline.get('parley')!.map((s) => (s * 1000).toFixed(0)).join('/')}, ` +
        `y-websocket ${offline.get('y-websocket')!.map((s) => (s * 1000).toFixed(0)).join('/')}; timed from the reconnect (socket, auth, sync handshake included)`,
    );

    const figure2 = 'single-edit updates/s accepted';
    const totals = new Map<number, number>();
    let current: System = 'parley';
    loads.forEach((l, i) =>
      l.onProgress((p) => {
        if (p.updates === undefined) return;
        totals.set(i, Number(p.updates));
        progressLine(`${current} stream: ${[...totals.values()].reduce((a, b) => a + b, 0)} updates`);
      }),
    );
    for (const system of systems) {
      const url = servers.get(system)!.url;
      progressLine(`${system}: connecting ${knobs.docs * (knobs.writersPerDoc + 1)} sockets`);
      const per = Math.ceil(knobs.docs / loads.length);
      await Promise.all(
        loads.map((l, i) =>
          l.request({ cmd: 'setupStream', system, url, docs: Math.min(per, knobs.docs - i * per), writersPerDoc: knobs.writersPerDoc, offset: i * per }, 120_000),
        ),
      );
      totals.clear();
      current = system;
      const parts = await Promise.all(
        loads.map((l) =>
          l.request<{ updates: number; seconds: number; sent: number }>(
            { cmd: 'runStream', window: knobs.window, warmupMs: knobs.warmupMs, durationMs: knobs.durationMs },
            knobs.warmupMs + knobs.durationMs + 60_000,
          ),
        ),
      );
      await Promise.all(loads.map((l) => l.request({ cmd: 'close' })));
      rows.push({ system, figure: figure2, value: parts.reduce((a, p) => a + p.updates, 0) / parts[0]!.seconds, unit: '/s' });
    }
    addRatios(rows, figure2);
    const mean = await meanGroupCommit(servers.get('parley')!.url);
    if (mean !== undefined) notes.push(`Parley group commit: ${mean.toFixed(1)} appends per transaction on average (whole scenario)`);
    notes.push(
      `update stream: ${knobs.docs} documents × ${knobs.writersPerDoc} writers (${knobs.docs * knobs.writersPerDoc} clients), ${knobs.window} edits in flight per writer, one observer per document counts forwarded updates`,
      'Parley appends every accepted update as a NotesUpdated event (fsync\'d, with the document text) before forwarding it; y-websocket (1.5.4 setupWSConnection on a bare http server, own process) keeps documents in memory only: no persistence',
    );
    return { scenario: name, knobs, rows, notes };
  } finally {
    await Promise.all(loads.map((l) => l.request({ cmd: 'close' }).catch(() => undefined)));
    await Promise.all(loads.map((l) => l.stop()));
    for (const s of servers.values()) await s.stop();
    if (profileDir) {
      try {
        notes.push('Parley node CPU profile, top self time:', ...topSelfTime(profileDir));
      } catch (err) {
        notes.push(`no CPU profile: ${String(err)}`);
      }
    }
  }
}
