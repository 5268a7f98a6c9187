/**
 * What a run reports: a progress line while it works, a table at the end, and
 * `bench/results/latest.json`. Each scenario gives rows (system, figure, value) and the
 * ratio Parley/peer per figure; absolute figures vary with the machine, ratios from one
 * run are what to compare.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';

export interface Row {
  system: string;
  figure: string;
  value: number;
  unit: string;
  /** Parley's value divided by this peer's, for the same figure (peers only). */
  ratio?: number;
  /** What the issue asks of the ratio, e.g. "≥ 1.5". */
  goal?: string;
}

export interface ScenarioResult {
  scenario: string;
  knobs: Record<string, unknown>;
  rows: Row[];
  notes: string[];
  seconds: number;
  error?: string;
}

/**
 * Adds ratio subject/peer to the peer rows of `figure`; the subject is the row of system
 * `subject` ('parley', or e.g. '3 nodes' when Parley is compared with itself).
 */
export function addRatios(rows: Row[], figure: string, goals: Record<string, string> = {}, subject = 'parley'): void {
  const parley = rows.find((r) => r.system === subject && r.figure === figure);
  for (const r of rows) {
    // Rows named 'parley …' are diagnostics of Parley itself, not peers.
    if (r.figure !== figure || r.system === subject || (subject === 'parley' && r.system.startsWith('parley')) || !parley) continue;
    r.ratio = parley.value / r.value;
    if (goals[r.system]) r.goal = goals[r.system];
  }
}

const started = performance.now();
let current = '';
let lastLength = 0;

/** Updates the one-line progress display (a plain line when stderr is not a terminal). */
export function progressLine(message: string): void {
  const s = ((performance.now() - started) / 1000).toFixed(0).padStart(4);
  const line = `[${s}s] ${current} › ${message}`;
  if (process.stderr.isTTY) {
    const cut = line.slice(0, (process.stderr.columns ?? 120) - 1);
    process.stderr.write(`\r${cut.padEnd(lastLength)}`);
    lastLength = cut.length;
  } else {
    process.stderr.write(`${line}\n`);
  }
}

export function beginScenario(name: string): void {
  current = name;
  progressLine('starting');
}

export function endProgress(): void {
  if (process.stderr.isTTY && lastLength > 0) process.stderr.write(`\r${' '.repeat(lastLength)}\r`);
  lastLength = 0;
}

function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Math.abs(v) >= 100) return Math.round(v).toLocaleString('en-US');
  if (Math.abs(v) >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

/** The results as a plain-text table (also used for the README). */
export function table(results: ScenarioResult[]): string {
  const header = ['scenario', 'figure', 'system', 'value', 'Parley/peer', 'goal'];
  const lines: string[][] = [];
  for (const res of results) {
    if (res.error) lines.push([res.scenario, 'FAILED (see below)', '', '', '', '']);
    for (const r of res.rows) {
      lines.push([res.scenario, r.figure, r.system, `${fmt(r.value)} ${r.unit}`, r.ratio === undefined ? '' : `${fmt(r.ratio)}×`, r.goal ?? '']);
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const row = (cells: string[]) => cells.map((c, i) => (i === 3 || i === 4 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [row(header), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.map(row)].join('\n');
}

export function machine() {
  return {
    cores: cpus().length,
    cpu: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
  };
}

/** Writes bench/results/latest.json and returns its path. */
export function writeResults(results: ScenarioResult[], run: { mode: string; seconds: number; command: string }): string {
  const dir = fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  const file = `${dir}latest.json`;
  const body = {
    date: new Date().toISOString(),
    ...run,
    machine: machine(),
    note: 'Absolute figures vary with the machine and its load; compare the ratios Parley/peer of one run.',
    scenarios: Object.fromEntries(
      results.map((r) => [
        r.scenario,
        {
          knobs: r.knobs,
          figures: r.rows.map(({ system, figure, value, unit }) => ({ system, figure, value, unit })),
          ratios: r.rows.filter((x) => x.ratio !== undefined).map(({ system, figure, ratio, goal }) => ({ figure, peer: system, parleyOverPeer: ratio, goal })),
          notes: r.notes,
          seconds: r.seconds,
          ...(r.error ? { error: r.error } : {}),
        },
      ]),
    ),
  };
  writeFileSync(file, JSON.stringify(body, null, 2) + '\n');
  return file;
}
