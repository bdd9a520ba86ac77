import test from 'ava';
import type { MembershipStats } from '../src/group/api';
import { GroupSim, type GroupNode } from './group-sim';

interface Peak {
  members: number;
  tombstones: number;
  piggybackQueued: number;
  pendingRelays: number;
}

function churn(sim: GroupSim, size: number, cycles: number, everyMs: number, leaveEvery = 0): { peakFirst: Peak; peakLast: Peak; survivors: GroupNode[] } {
  let live: GroupNode[] = [];
  for (let i = 0; i < size; i++) live.push(sim.add(`m${i}`));
  sim.run(2000);
  const empty = (): Peak => ({ members: 0, tombstones: 0, piggybackQueued: 0, pendingRelays: 0 });
  const peakFirst = empty();
  const peakLast = empty();
  const track = (p: Peak, s: MembershipStats) => {
    for (const k of Object.keys(p) as (keyof Peak)[]) p[k] = Math.max(p[k], s[k]);
  };
  for (let c = 0; c < cycles; c++) {
    // One member dies (or leaves) and a new one joins, every `everyMs`.
    const victim = live[Math.floor(sim.rng() * live.length)]!;
    if (leaveEvery > 0 && c % leaveEvery === 0) sim.leave(victim);
    else sim.kill(victim);
    live = live.filter((n) => n !== victim);
    live.push(sim.add(`c${c}`));
    sim.run(everyMs);
    const p = c < cycles / 2 ? peakFirst : peakLast;
    for (const n of live) track(p, n.m.stats());
  }
  return { peakFirst, peakLast, survivors: live };
}

test('churn of joins and deaths keeps tables, tombstones and piggyback lists bounded', (t) => {
  const sim = new GroupSim({ seed: 41 });
  const { peakFirst, peakLast, survivors } = churn(sim, 30, 300, 1000, 4);
  t.log(`peaks over the first half: ${JSON.stringify(peakFirst)}; second half: ${JSON.stringify(peakLast)}`);
  const timers = survivors[0]!.m.timers();
  // Members: the live set plus the dying ones not yet declared dead (one per second, each gone within the bound).
  t.true(peakLast.members <= 30 + Math.ceil(timers.deadBoundMs / 1000));
  // Tombstones: one per departure, held for tombstoneMs.
  t.true(peakLast.tombstones <= Math.ceil(timers.tombstoneMs / 1000) + 5);
  t.true(peakLast.piggybackQueued <= 64);
  t.true(peakLast.pendingRelays <= 16);
  // No growth from the first half of the run to the second.
  t.true(peakLast.tombstones <= peakFirst.tombstones + 3);
  t.true(peakLast.members <= peakFirst.members + 3);
  sim.run(timers.deadBoundMs + 2000);
  t.true(sim.converged());
});

test('the tombstone and piggyback caps hold when churn outruns them', (t) => {
  const sim = new GroupSim({ seed: 42, tuning: { maxTombstones: 8, maxPiggybackQueue: 6 } });
  const { peakLast, survivors } = churn(sim, 20, 200, 300);
  t.log(`peaks: ${JSON.stringify(peakLast)}; updates dropped by the full queue: ${survivors.reduce((s, n) => s + n.m.stats().updatesDropped, 0)}`);
  t.true(peakLast.tombstones <= 8);
  t.true(peakLast.piggybackQueued <= 6);
  sim.run(survivors[0]!.m.timers().deadBoundMs * 2);
  t.true(sim.converged());
});
