/**
 * `npm run bench [-- --quick] [-- --only fanout,append] [-- --profile] [-- --rates 20,500,2000]`
 *
 * Runs each scenario against Parley and its peers in this one run, prints a table of
 * figures and ratios Parley/peer, and writes bench/results/latest.json. Every process
 * and temp dir a scenario starts is removed when it ends, even on failure or Ctrl-C.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { cleanupAll, tempDir } from './procs.js';
import { beginScenario, endProgress, machine, table, writeResults, type ScenarioResult } from './report.js';
import * as append from './scenarios/append.js';
import * as catchup from './scenarios/catchup.js';
import * as cluster from './scenarios/cluster.js';
import * as connections from './scenarios/connections.js';
import * as fanout from './scenarios/fanout.js';
import * as replay from './scenarios/replay.js';
import * as yjs from './scenarios/yjs.js';

export interface RunOptions {
  quick: boolean;
  /** Fixed offered rates (posts/s) of the fan-out latency phases, the same for every system. */
  rates?: number[];
  /** When set, the Parley node runs with --cpu-prof writing here. */
  profileDir?: string;
}

interface Scenario {
  name: string;
  run(opts: RunOptions): Promise<Omit<ScenarioResult, 'seconds'>>;
}

const SCENARIOS: Scenario[] = [fanout, append, replay, connections, catchup, yjs, cluster];

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    profile: { type: 'boolean', default: false },
    rates: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  process.stdout.write(`usage: npm run bench -- [--quick] [--only ${SCENARIOS.map((s) => s.name).join(',')}] [--profile] [--rates 20,500,2000]\n`);
  process.exit(0);
}
const rates = values.rates?.split(',').map((s) => Number(s.trim()));
if (rates && (rates.length === 0 || rates.some((r) => !Number.isFinite(r) || r <= 0 || r > 100_000))) {
  process.stderr.write(`--rates wants posts/s as positive numbers up to 100000, comma-separated: ${values.rates}\n`);
  process.exit(2);
}
const only = values.only?.split(',').map((s) => s.trim()).filter(Boolean);
const unknown = only?.filter((n) => !SCENARIOS.some((s) => s.name === n)) ?? [];
if (unknown.length > 0) {
  process.stderr.write(`unknown scenario(s): ${unknown.join(', ')}\n`);
  process.exit(2);
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    endProgress();
    process.stderr.write(`\n${signal}: stopping every benchmark process\n`);
    cleanupAll();
    process.exit(130);
  });
}
process.once('exit', cleanupAll);

const started = performance.now();
const results: ScenarioResult[] = [];
const m = machine();
process.stderr.write(`parley bench (${values.quick ? 'quick' : 'full'}) on ${m.cores} cores, ${m.cpu}, Node ${m.node}\n`);
for (const scenario of SCENARIOS) {
  if (only && !only.includes(scenario.name)) continue;
  beginScenario(scenario.name);
  const t0 = performance.now();
  const profileDir = values.profile ? join(tempDir('parley-bench-prof-'), 'cpu') : undefined;
  try {
    const r = await scenario.run({ quick: values.quick, profileDir, rates });
    results.push({ ...r, seconds: (performance.now() - t0) / 1000 });
  } catch (err) {
    results.push({
      scenario: scenario.name,
      knobs: {},
      rows: [],
      notes: [],
      seconds: (performance.now() - t0) / 1000,
      error: err instanceof Error ? (err.stack ?? err.message) : String(err),
    });
  }
  endProgress();
  cleanupAll();
}
const seconds = (performance.now() - started) / 1000;
const flags = `${values.quick ? ' --quick' : ''}${only ? ` --only ${only.join(',')}` : ''}${values.profile ? ' --profile' : ''}${rates ? ` --rates ${rates.join(',')}` : ''}`;
const command = `npm run bench${flags ? ` --${flags}` : ''}`;
process.stdout.write(`\n${table(results)}\n\n`);
for (const r of results) {
  for (const n of r.notes) process.stdout.write(`${r.scenario}: ${n}\n`);
  if (r.error) process.stdout.write(`${r.scenario} failed: ${r.error}\n`);
}
const file = writeResults(results, { mode: values.quick ? 'quick' : 'full', seconds, command });
process.stdout.write(`\nran in ${seconds.toFixed(1)} s (${values.quick ? 'quick' : 'full'}); results in ${file}\n`);
process.exit(results.some((r) => r.error) ? 1 : 0);
