/**
 * Which generation of the log (log-generations.ts) a node's read models were built from,
 * recorded in its data directory as `log-generation.json`.
 *
 * Read-model checkpoints are positions, and positions of one generation mean nothing in
 * another. A checkpoint of another partition count is refused by the projection runner,
 * which then rebuilds; but after 1 → 3 → 1 (two `parley repartition` runs while the node
 * was down) the count matches and the old checkpoints would be taken for the new log's,
 * skipping or repeating events. That case is refused at start with the way out.
 *
 * A data directory without the file holds read models of generation 0 (every node from
 * before generations), or none yet.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { GenerationRef } from '../store/jetstream/index.js';

const FILE = 'log-generation.json';
const READ_MODELS = 'readmodels.sqlite';

/** Named as the node's start-up errors are, so it is reported as it stands. */
export class ReadModelsOfAnotherGenerationError extends Error {
  override readonly name = 'StartupError';
  readonly code = 'read_models_of_another_generation';
}

interface Marker extends GenerationRef {
  stream: string;
}

/**
 * Refuses read models of another generation with the same partition count; else records
 * the live generation. `generationZeroCount` stands for a directory from before the file.
 */
export function checkReadModelsGeneration(dataDir: string, stream: string, live: GenerationRef, generationZeroCount: number): void {
  const file = join(dataDir, FILE);
  const built = builtFrom(dataDir, file, stream, generationZeroCount);
  if (built && built.generation !== live.generation && built.partitions === live.partitions) {
    throw new ReadModelsOfAnotherGenerationError(
      `the read models in ${dataDir} were built from generation ${built.generation} of the log ${stream}, which is now generation ${live.generation} with the same partition count (${live.partitions}): their checkpoints would be misread; remove ${join(dataDir, READ_MODELS)}* so they rebuild from the new log, and start again`,
    );
  }
  if (built?.generation === live.generation) return;
  const marker: Marker = { stream, ...live };
  writeFileSync(file, JSON.stringify(marker) + '\n');
}

function builtFrom(dataDir: string, file: string, stream: string, generationZeroCount: number): GenerationRef | undefined {
  if (!existsSync(join(dataDir, READ_MODELS))) return undefined; // nothing built yet (or removed to rebuild)
  if (existsSync(file)) {
    let m: Partial<Marker> | undefined;
    try {
      m = JSON.parse(readFileSync(file, 'utf8')) as Partial<Marker>;
    } catch {
      m = undefined; // unreadable: taken as missing (below)
    }
    if (m?.stream === stream && Number.isSafeInteger(m.generation) && Number.isSafeInteger(m.partitions)) return { generation: m.generation!, partitions: m.partitions! };
    if (m?.stream !== undefined) return undefined; // another log's directory: positions say nothing either way, as before
  }
  return { generation: 0, partitions: generationZeroCount };
}
