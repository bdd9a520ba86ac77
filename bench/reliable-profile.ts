/** Reads a V8 `.cpuprofile` (node --cpu-prof) and ranks functions by self time, for bench/reliable.ts. */

import { readFileSync } from 'node:fs';

interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number }>;
  samples: number[];
  timeDeltas: number[];
}

/** Top self-time functions of one .cpuprofile, as table rows. */
export function topFunctions(file: string, n: number): string[][] {
  const prof = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(prof.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<string, number>();
  let totalUs = 0;
  for (let i = 0; i < prof.samples.length; i++) {
    const node = byId.get(prof.samples[i]!);
    const dt = prof.timeDeltas[i] ?? 0;
    if (!node) continue;
    const cf = node.callFrame;
    // Waiting is not work. '(program)' (native code outside any JS function) is work and stays.
    if (cf.functionName === '(idle)') continue;
    const where = cf.url ? `${cf.url.replace(/^.*\/dist\//, '')}:${cf.lineNumber + 1}` : '';
    const key = `${cf.functionName || '(anonymous)'} ${where}`.trim();
    selfUs.set(key, (selfUs.get(key) ?? 0) + dt);
    totalUs += dt;
  }
  return [...selfUs.entries()].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, us]) => [k, (us / 1000).toFixed(0), `${((us / totalUs) * 100).toFixed(1)}%`]);
}
