/**
 * Reads a V8 `.cpuprofile` (from `node --cpu-prof`) and lists the functions with the most
 * self time, which is what `--profile` adds to a scenario's notes.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/**
 * The top `n` functions by self time across every profile in `dir`, as readable lines,
 * in percent of the busy time (idle time is left out and reported on its own line).
 */
export function topSelfTime(dir: string, n = 15): string[] {
  const self = new Map<string, number>();
  let total = 0;
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.cpuprofile'))) {
    const p = JSON.parse(readFileSync(join(dir, f), 'utf8')) as CpuProfile;
    const byId = new Map(p.nodes.map((node) => [node.id, node]));
    p.samples.forEach((id, i) => {
      const node = byId.get(id)!;
      const dt = p.timeDeltas[i] ?? 0;
      const { functionName, url, lineNumber } = node.callFrame;
      const where = url.startsWith('file://') ? relative(ROOT, fileURLToPath(url)) : url || '(native)';
      const key = `${functionName || '(anonymous)'} ${where}${url ? `:${lineNumber + 1}` : ''}`;
      self.set(key, (self.get(key) ?? 0) + dt);
      total += dt;
    });
  }
  const idle = self.get('(idle) (native)') ?? 0;
  self.delete('(idle) (native)');
  const busy = total - idle;
  return [
    `busy ${(busy / 1e6).toFixed(1)} s of ${(total / 1e6).toFixed(1)} s profiled; share of busy time:`,
    ...[...self.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, us]) => `${((100 * us) / busy).toFixed(1).padStart(5)}%  ${k}`),
  ];
}
