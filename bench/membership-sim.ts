/**
 * Runs the group membership (src/group) on the simulated network of
 * test/group-sim.ts and prints convergence time, failure-detection time,
 * false positives and control traffic per member. Virtual time: the numbers
 * do not depend on the machine, only on the seed.
 *
 *   node dist/bench/membership-sim.js --members 100 --loss 0.1
 *   node dist/bench/membership-sim.js --members 50 --partition 20:40 --duration 90
 *
 * --members N      group size (default 50)
 * --loss P         per-delivery loss probability (default 0)
 * --kill K         members killed (kill -9, no leave) once converged (default 1)
 * --partition A:B  split the group in two halves from A s to B s after convergence
 * --duration S     virtual seconds to run after convergence (default 60)
 * --join-ms MS     spread of the joins (default 1000)
 * --seed N         (default 1)
 * --json           one JSON object instead of the table: { members, loss,
 *                  convergenceMs, detectionMs, boundMs, falseDeaths,
 *                  suspicions, bytesSentPerMemberPerSec,
 *                  bytesReceivedPerMemberPerSec } (convergenceMs /
 *                  detectionMs null when it did not happen; detectionMs is
 *                  the slowest victim's kill → dead at every live member;
 *                  with --partition also partition: { crossSideDeaths,
 *                  reunitedMs })
 */

import { parseArgs } from 'node:util';
import { MembershipSimulation as GroupSim, type MembershipSimEvent as GroupEvent } from '../src/sim/membership';

const { values } = parseArgs({
  options: {
    members: { type: 'string', default: '50' },
    loss: { type: 'string', default: '0' },
    kill: { type: 'string', default: '1' },
    partition: { type: 'string' },
    duration: { type: 'string', default: '60' },
    'join-ms': { type: 'string', default: '1000' },
    seed: { type: 'string', default: '1' },
    json: { type: 'boolean', default: false },
  },
});

const size = Number(values.members);
const loss = Number(values.loss);
const kills = Number(values.kill);
const durationMs = Number(values.duration) * 1000;
const joinSpreadMs = Number(values['join-ms']);
const partition = values.partition?.split(':').map((x) => Number(x) * 1000) as [number, number] | undefined;

const sim = new GroupSim({ seed: Number(values.seed), loss });
const killed = new Map<string, number>(); // id → kill time
const deadSeen = new Map<string, number[]>(); // victim id → times at which members declared it dead
let falseDead = 0;
let falseSuspect = 0;
let crossSideDead = 0;
let inPartition = false;
const wallStart = process.hrtime.bigint();

for (let i = 0; i < size; i++) {
  sim.at((i * joinSpreadMs) / size, () => {
    const node = sim.add(`m${i}`, { role: i % 2 ? 'worker' : 'collector' });
    node.onEvent = (e: GroupEvent) => {
      const killedAt = killed.get(e.id);
      if (e.type === 'dead') {
        if (killedAt !== undefined) {
          const list = deadSeen.get(e.id) ?? [];
          list.push(e.atMs - killedAt);
          deadSeen.set(e.id, list);
        } else if (inPartition) crossSideDead++;
        else falseDead++;
      } else if (e.type === 'suspect' && killedAt === undefined && !inPartition) falseSuspect++;
    };
  });
}
sim.run(joinSpreadMs);
const lastJoinMs = sim.nowMs;
const converged = sim.runWhile(() => !sim.sizesConverged(), 120_000, 50);
const convergenceMs = sim.nowMs - lastJoinMs;
const timers = sim.nodes[0]!.m.timers();

const t0 = sim.nowMs;
const bytesAt0 = sim.nodes.map((n) => n.m.stats().bytesSent);
const rxAt0 = sim.nodes.map((n) => n.m.stats().bytesReceived);
for (let k = 0; k < kills; k++) {
  const victim = sim.nodes[1 + Math.floor(sim.rng() * (size - 1))]!;
  if (!victim.running) continue;
  killed.set(victim.id, sim.nowMs);
  sim.kill(victim);
}
let healedMs: number | undefined;
let reunitedMs: number | undefined;
if (partition) {
  sim.at(t0 + partition[0], () => {
    inPartition = true;
    sim.nodes.forEach((n, i) => (n.side = i < size / 2 ? 0 : 1));
  });
  sim.at(t0 + partition[1], () => {
    for (const n of sim.nodes) n.side = 0;
    healedMs = sim.nowMs;
  });
}
const endMs = t0 + durationMs;
while (sim.nowMs < endMs) {
  sim.run(Math.min(100, endMs - sim.nowMs));
  if (healedMs !== undefined && reunitedMs === undefined && sim.sizesConverged()) {
    reunitedMs = sim.nowMs - healedMs;
    inPartition = false;
  }
}
const runMs = sim.nowMs - t0;
const live = sim.nodes.filter((n) => n.running);
const txPerMemberPerSec = live.reduce((s, n) => s + n.m.stats().bytesSent - bytesAt0[sim.nodes.indexOf(n)]!, 0) / live.length / (runMs / 1000);
const rxPerMemberPerSec = live.reduce((s, n) => s + n.m.stats().bytesReceived - rxAt0[sim.nodes.indexOf(n)]!, 0) / live.length / (runMs / 1000);
const detection = [...killed.keys()].map((id) => {
  const times = deadSeen.get(id) ?? [];
  return { complete: times.length >= live.length, first: Math.min(...times), last: Math.max(...times) };
});
const wallS = Number(process.hrtime.bigint() - wallStart) / 1e9;

if (values.json === true) {
  const detected = detection.length > 0 && detection.every((d) => d.complete);
  console.log(JSON.stringify({
    members: size,
    loss,
    convergenceMs: converged ? convergenceMs : null,
    detectionMs: detected ? Math.round(Math.max(...detection.map((d) => d.last))) : null,
    boundMs: Math.round(timers.deadBoundMs),
    falseDeaths: falseDead,
    suspicions: falseSuspect,
    bytesSentPerMemberPerSec: Math.round(txPerMemberPerSec),
    bytesReceivedPerMemberPerSec: Math.round(rxPerMemberPerSec),
    ...(partition ? { partition: { crossSideDeaths: crossSideDead, reunitedMs: reunitedMs ?? null } } : {}),
  }));
  process.exit(0);
}

const fmt = (ms: number) => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(2)} s` : 'n/a');
const rows: [string, string][] = [
  ['members', String(size)],
  ['loss', `${(loss * 100).toFixed(1)} %`],
  ['period / suspicion / announce', `${fmt(timers.periodMs)} / ${fmt(timers.suspicionTimeoutMs)} / ${fmt(timers.announceIntervalMs)}`],
  ['convergence after last join', converged ? fmt(convergenceMs) : `not within 120 s`],
  ['detection (kill → dead everywhere)', detection.length === 0 ? 'n/a' : detection.map((d) => `${fmt(d.first)}–${fmt(d.last)}${d.complete ? '' : ' (incomplete)'}`).join(', ')],
  ['documented dead bound', fmt(timers.deadBoundMs)],
  ['false positives (dead / suspect events about live members)', `${falseDead} / ${falseSuspect}`],
  ...(partition ? [['partition: cross-side deaths, reunited after heal', `${crossSideDead}, ${reunitedMs === undefined ? 'not reunited' : fmt(reunitedMs)}`] as [string, string]] : []),
  ['bytes sent per member per second', txPerMemberPerSec.toFixed(0)],
  ['bytes received per member per second', rxPerMemberPerSec.toFixed(0)],
  ['virtual run / wall time', `${fmt(runMs)} / ${wallS.toFixed(1)} s`],
];
const w = Math.max(...rows.map(([k]) => k.length));
for (const [k, v] of rows) console.log(`${k.padEnd(w)}  ${v}`);
