import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ProjectionRunner, builtInProjections } from '../../projections/index.js';
import { loadConfig } from '../node/index.js';
import { openLogStore } from '../cluster/index.js';

const HELP = `usage: parley rebuild [projection…] [--data-dir DIR]

Drops the named read models (all when none are named) and rebuilds them from the log in
DATA_DIR. Run it while the node is stopped.
`;

export async function rebuild(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { 'data-dir': { type: 'string' }, help: { type: 'boolean' } },
  });
  if (values.help) return void process.stdout.write(HELP);
  const config = loadConfig(process.env, values['data-dir'] ? { dataDir: values['data-dir'] } : {});
  const store = await openLogStore(config);
  const db = ProjectionRunner.openDatabase(join(config.dataDir, 'readmodels.sqlite'));
  const runner = new ProjectionRunner(store, db, builtInProjections(), { batchSize: 5000 });
  const head = await store.headPosition();
  const started = performance.now();
  const names = positionals.length > 0 ? positionals : runner.projectionNames;
  try {
    await runner.rebuild(names, (name, position) => {
      if (process.stderr.isTTY) process.stderr.write(`\r${name}: ${position}/${head} events`);
    });
  } finally {
    if (process.stderr.isTTY) process.stderr.write('\n');
    db.close();
    await store.close();
  }
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(`rebuilt ${names.join(', ')} from ${head} events in ${seconds.toFixed(2)} s\n`);
}
