/**
 * The membership benchmark's scenario on {@link MembershipSimulation}: N
 * members join over a spread, the group converges, K members are killed
 * (kill -9), optionally the group is split in two halves for a while, and
 * the run measures convergence, detection, false positives and control
 * traffic per member. `bench/membership-sim.ts` prints the same figures;
 * docs/simulator.md shows how to reproduce a row of its table.
 */

import type { ScaledTimers } from '../group/api';
import { InvalidArgumentTypeError, InvalidArgumentValueError } from '../util/errors';
import { MembershipSimulation, type MembershipSimEvent } from './membership';

/** Longest wait for convergence after the last join, ms of virtual time. */
export const CONVERGENCE_LIMIT_MS = 120_000;
/** How often convergence is checked while waiting for it, ms (the convergence time is a multiple of it). */
const CONVERGENCE_STEP_MS = 50;
/** How often the reunion after a heal is checked, ms. */
const REUNION_STEP_MS = 100;

export interface MembershipScenarioOptions {
  /** Group size, an integer ≥ 2. Default 50. */
  members?: number;
  /** Per-delivery loss probability, 0..1. Default 0. */
  loss?: number;
  /** Members killed (kill -9, no leave) once the group converged; victims drawn from the seed, never the first member. Default 1. */
  kill?: number;
  /** Split the group in two halves from `fromMs` to `toMs` after convergence (ms, relative to the kill instant). */
  partition?: { fromMs: number; toMs: number };
  /** Virtual time to run after convergence, ms. Default 60,000. */
  durationMs?: number;
  /** The joins are spread evenly over this time, ms. Default 1000. */
  joinSpreadMs?: number;
  /** Default 1. */
  seed?: number;
}

/** What `node dist/bench/membership-sim.js --json` prints, field for field. */
export interface MembershipReport {
  members: number;
  loss: number;
  /** Time from the last join until every member knew every other, ms; null when not within 120 s. */
  convergenceMs: number | null;
  /** The slowest victim's kill → declared dead by every live member, ms (rounded); null when nobody was killed or a victim was not declared dead everywhere. */
  detectionMs: number | null;
  /** The documented bound on detection for this group size (`deadBoundMs`), ms. */
  boundMs: number;
  /** `dead` events about live members (outside a partition). */
  falseDeaths: number;
  /** `suspect` events about live members (outside a partition). */
  suspicions: number;
  bytesSentPerMemberPerSec: number;
  bytesReceivedPerMemberPerSec: number;
  /** With the `partition` option: deaths declared across the split, and the time from heal until the tables were whole again (null: not within the run). */
  partition?: { crossSideDeaths: number; reunitedMs: number | null };
}

/** Detection of one victim. */
export interface Detection {
  /** The victim's member id. */
  id: string;
  /** Every live member declared it dead. */
  complete: boolean;
  /** Kill → first and last `dead` event about it, ms (Infinity / -Infinity when none). */
  firstMs: number;
  lastMs: number;
}

export interface MembershipScenarioResult {
  report: MembershipReport;
  /** The timers in force at convergence (member 0's view). */
  timers: ScaledTimers;
  detections: Detection[];
  /** Unrounded traffic per live member per second over the run after convergence. */
  sentPerMemberPerSec: number;
  receivedPerMemberPerSec: number;
  /** Virtual time run after convergence, ms. */
  runMs: number;
  /** Wall-clock time the whole scenario took, ms. */
  wallMs: number;
  /** The simulation, at the end of the run, to look further. */
  simulation: MembershipSimulation;
}

/**
 * Runs the scenario. Deterministic: the same options give the same result
 * (but for `wallMs`).
 * @throws InvalidArgumentTypeError / InvalidArgumentValueError for a bad option; nothing runs.
 */
export function runMembershipScenario(options: MembershipScenarioOptions = {}): MembershipScenarioResult {
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentTypeError('options must be an object');
  const size = integer('members', options.members ?? 50, 2);
  const kills = integer('kill', options.kill ?? 1, 0);
  const durationMs = nonNegative('durationMs', options.durationMs ?? 60_000);
  const joinSpreadMs = nonNegative('joinSpreadMs', options.joinSpreadMs ?? 1000);
  const partition = options.partition;
  if (partition !== undefined) {
    if (typeof partition !== 'object' || partition === null) throw new InvalidArgumentTypeError('partition must be an object like { fromMs, toMs }');
    nonNegative('partition.fromMs', partition.fromMs);
    if (!(nonNegative('partition.toMs', partition.toMs) > partition.fromMs)) throw new InvalidArgumentValueError(`partition.toMs must be after partition.fromMs, got ${partition.fromMs}..${partition.toMs}`);
  }
  const loss = options.loss ?? 0;
  const sim = new MembershipSimulation({ seed: options.seed ?? 1, loss });

  const killed = new Map<string, number>(); // id → kill time
  const deadSeen = new Map<string, number[]>(); // victim id → kill → dead delays, one per member that declared it
  let falseDead = 0;
  let falseSuspect = 0;
  let crossSideDead = 0;
  let inPartition = false;
  const wallStartMs = performance.now();

  const onEvent = (e: MembershipSimEvent): void => {
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
  for (let i = 0; i < size; i++) {
    sim.at((i * joinSpreadMs) / size, () => {
      sim.add(`m${i}`, { role: i % 2 ? 'worker' : 'collector' }).onEvent = onEvent;
    });
  }
  sim.run(joinSpreadMs);
  const lastJoinMs = sim.nowMs;
  const converged = sim.runWhile(() => !sim.sizesConverged(), CONVERGENCE_LIMIT_MS, CONVERGENCE_STEP_MS);
  const convergenceMs = sim.nowMs - lastJoinMs;
  const timers = sim.nodes[0]!.m.timers();

  const t0 = sim.nowMs;
  const sentAt0 = sim.nodes.map((n) => n.m.stats().bytesSent);
  const receivedAt0 = sim.nodes.map((n) => n.m.stats().bytesReceived);
  for (let k = 0; k < kills; k++) {
    const victim = sim.nodes[1 + Math.floor(sim.rng() * (size - 1))]!;
    if (!victim.running) continue; // drawn twice: one kill fewer, as the benchmark always did
    killed.set(victim.id, sim.nowMs);
    sim.kill(victim);
  }
  let healedMs: number | undefined;
  let reunitedMs: number | undefined;
  if (partition) {
    sim.at(t0 + partition.fromMs, () => {
      inPartition = true;
      sim.nodes.forEach((n, i) => (n.side = i < size / 2 ? 0 : 1));
    });
    sim.at(t0 + partition.toMs, () => {
      sim.heal();
      healedMs = sim.nowMs;
    });
  }
  const endMs = t0 + durationMs;
  while (sim.nowMs < endMs) {
    sim.run(Math.min(REUNION_STEP_MS, endMs - sim.nowMs));
    if (healedMs !== undefined && reunitedMs === undefined && sim.sizesConverged()) {
      reunitedMs = sim.nowMs - healedMs;
      inPartition = false;
    }
  }
  const runMs = sim.nowMs - t0;
  const live = sim.running();
  const perSec = (now: (i: number) => number, at0: number[]): number =>
    live.reduce((s, n) => { const i = sim.nodes.indexOf(n); return s + now(i) - at0[i]!; }, 0) / live.length / (runMs / 1000);
  const sentPerMemberPerSec = perSec((i) => sim.nodes[i]!.m.stats().bytesSent, sentAt0);
  const receivedPerMemberPerSec = perSec((i) => sim.nodes[i]!.m.stats().bytesReceived, receivedAt0);
  const detections = [...killed.keys()].map((id): Detection => {
    const times = deadSeen.get(id) ?? [];
    return { id, complete: times.length >= live.length, firstMs: Math.min(...times), lastMs: Math.max(...times) };
  });
  const detected = detections.length > 0 && detections.every((d) => d.complete);
  const report: MembershipReport = {
    members: size,
    loss,
    convergenceMs: converged ? convergenceMs : null,
    detectionMs: detected ? Math.round(Math.max(...detections.map((d) => d.lastMs))) : null,
    boundMs: Math.round(timers.deadBoundMs),
    falseDeaths: falseDead,
    suspicions: falseSuspect,
    bytesSentPerMemberPerSec: Math.round(sentPerMemberPerSec),
    bytesReceivedPerMemberPerSec: Math.round(receivedPerMemberPerSec),
    ...(partition ? { partition: { crossSideDeaths: crossSideDead, reunitedMs: reunitedMs ?? null } } : {}),
  };
  return { report, timers, detections, sentPerMemberPerSec, receivedPerMemberPerSec, runMs, wallMs: performance.now() - wallStartMs, simulation: sim };
}

/** The benchmark's table of a result, one `label  value` line per figure (what `node dist/bench/membership-sim.js` prints). */
export function formatMembershipScenario(result: MembershipScenarioResult): string {
  const { report, timers, detections } = result;
  const fmt = (ms: number): string => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(2)} s` : 'n/a');
  const rows: [string, string][] = [
    ['members', String(report.members)],
    ['loss', `${(report.loss * 100).toFixed(1)} %`],
    ['period / suspicion / announce', `${fmt(timers.periodMs)} / ${fmt(timers.suspicionTimeoutMs)} / ${fmt(timers.announceIntervalMs)}`],
    ['convergence after last join', report.convergenceMs !== null ? fmt(report.convergenceMs) : `not within ${CONVERGENCE_LIMIT_MS / 1000} s`],
    ['detection (kill → dead everywhere)', detections.length === 0 ? 'n/a' : detections.map((d) => `${fmt(d.firstMs)}–${fmt(d.lastMs)}${d.complete ? '' : ' (incomplete)'}`).join(', ')],
    ['documented dead bound', fmt(timers.deadBoundMs)],
    ['false positives (dead / suspect events about live members)', `${report.falseDeaths} / ${report.suspicions}`],
    ...(report.partition ? [['partition: cross-side deaths, reunited after heal', `${report.partition.crossSideDeaths}, ${report.partition.reunitedMs === null ? 'not reunited' : fmt(report.partition.reunitedMs)}`] as [string, string]] : []),
    ['bytes sent per member per second', result.sentPerMemberPerSec.toFixed(0)],
    ['bytes received per member per second', result.receivedPerMemberPerSec.toFixed(0)],
    ['virtual run / wall time', `${fmt(result.runMs)} / ${(result.wallMs / 1000).toFixed(1)} s`],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n');
}

function integer(name: string, v: number, min: number): number {
  if (typeof v !== 'number') throw new InvalidArgumentTypeError(`${name} must be a number, got ${typeof v}`);
  if (!Number.isInteger(v) || v < min) throw new InvalidArgumentValueError(`${name} must be an integer ≥ ${min}, got ${v}`);
  return v;
}

function nonNegative(name: string, v: number): number {
  if (typeof v !== 'number') throw new InvalidArgumentTypeError(`${name} must be a number, got ${typeof v}`);
  if (!(v >= 0) || !Number.isFinite(v)) throw new InvalidArgumentValueError(`${name} must be a finite number ≥ 0, got ${v}`);
  return v;
}
