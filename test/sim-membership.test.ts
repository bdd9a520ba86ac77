/**
 * blipcast/sim, core level: MembershipSimulation (N membership cores on a
 * seeded virtual network) and runMembershipScenario (the membership
 * benchmark's scenario as a library call).
 */

import test from 'ava';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { formatMembershipScenario, MembershipSimulation, runMembershipScenario, type SimMember } from '../src/sim';
import { InvalidArgumentTypeError, InvalidArgumentValueError } from '../src/util/errors';

function group(sim: MembershipSimulation, n: number): SimMember[] {
  const nodes: SimMember[] = [];
  for (let i = 0; i < n; i++) sim.at(i * 10, () => nodes.push(sim.add(`m${i}`)));
  sim.run(n * 10);
  return nodes;
}

function trace(seed: number): string[] {
  const sim = new MembershipSimulation({ seed, loss: 0.1, jitterMs: 2 });
  const nodes = group(sim, 8);
  sim.run(3000);
  sim.kill(nodes[3]!);
  sim.pause(nodes[5]!, 500);
  sim.run(20_000);
  return nodes.flatMap((n) => n.events.map((e) => `${e.atMs.toFixed(3)} ${n.name} ${e.type} ${e.id}`));
}

test('the same seed replays the same run, event for event; another seed gives another', (t) => {
  const a = trace(7);
  t.true(a.length > 50);
  t.deepEqual(trace(7), a);
  t.notDeepEqual(trace(8), a);
});

test('a member paused for less than the suspicion timeout is not declared dead; paused for longer, it is, and it rejoins', (t) => {
  const sim = new MembershipSimulation({ seed: 3 });
  const nodes = group(sim, 6);
  t.true(sim.runWhile(() => !sim.converged(), 10_000));
  const timers = nodes[0]!.m.timers();
  const victim = nodes[2]!;
  const others = nodes.filter((n) => n !== victim);
  const deaths = (): number => others.reduce((s, n) => s + n.events.filter((e) => e.type === 'dead' && e.id === victim.id).length, 0);

  sim.pause(victim, timers.suspicionTimeoutMs / 2);
  t.not(victim.pausedUntilMs, undefined);
  sim.run(timers.deadBoundMs * 2);
  t.is(victim.pausedUntilMs, undefined);
  t.is(deaths(), 0, 'a short pause is survived: at most a suspicion, refuted');
  t.true(sim.converged());

  const pausedAtMs = sim.nowMs;
  sim.pause(victim, timers.deadBoundMs * 2);
  t.true(sim.runWhile(() => deaths() < others.length, timers.deadBoundMs * 2 - 1));
  t.true(sim.nowMs - pausedAtMs <= timers.deadBoundMs, `declared dead by all after ${sim.nowMs - pausedAtMs} ms, bound ${timers.deadBoundMs} ms`);
  t.true(sim.runWhile(() => !sim.converged(), timers.deadBoundMs * 4), 'back from its pause, it refutes and the group takes it back');
  t.true(others.every((n) => n.m.members().some((m) => m.id === victim.id && m.state === 'alive')));
});

test('a partition splits the tables, and heal() reunites the group', (t) => {
  const sim = new MembershipSimulation({ seed: 4 });
  const nodes = group(sim, 6);
  t.true(sim.runWhile(() => !sim.converged(), 10_000));
  const bound = nodes[0]!.m.timers().deadBoundMs;
  sim.partition(nodes.slice(0, 3), nodes.slice(3));
  t.true(sim.runWhile(() => !sim.converged(), bound * 2), 'each side converges on itself');
  t.true(nodes.every((n) => n.m.members().length === 3));
  sim.heal();
  t.true(sim.runWhile(() => !sim.converged(), 30_000));
  t.true(nodes.every((n) => n.m.members().length === 6));
});

test('runMembershipScenario gives the figures of bench/membership-sim --json, field for field, and its table', (t) => {
  const r = spawnSync(process.execPath, [join(__dirname, '..', 'bench', 'membership-sim.js'), '--members', '20', '--loss', '0.1', '--duration', '30', '--json'], { encoding: 'utf8', timeout: 60_000 });
  t.is(r.status, 0, r.stderr);
  const result = runMembershipScenario({ members: 20, loss: 0.1, durationMs: 30_000 });
  t.deepEqual(result.report, JSON.parse(r.stdout));
  t.is(result.report.falseDeaths, 0);
  t.true(result.detections.length === 1 && result.detections[0]!.complete);
  const table = formatMembershipScenario(result);
  t.regex(table, /^members {2,}20$/m);
  t.regex(table, /^documented dead bound {2,}\d+\.\d\d s$/m);
});

test('bad input is refused with a typed error, and nothing runs', (t) => {
  t.throws(() => new MembershipSimulation({ seed: 1, loss: -0.1 }), { instanceOf: InvalidArgumentValueError });
  t.throws(() => new MembershipSimulation({ seed: 1, loss: 1.5 }), { instanceOf: InvalidArgumentValueError });
  t.throws(() => new MembershipSimulation({ seed: 1, delayMs: -1 }), { instanceOf: InvalidArgumentValueError });
  t.throws(() => new MembershipSimulation({ seed: 'x' as unknown as number }), { instanceOf: InvalidArgumentTypeError });
  const sim = new MembershipSimulation({ seed: 1 });
  const other = new MembershipSimulation({ seed: 2 }).add('stranger');
  t.throws(() => (sim.loss = 2), { instanceOf: InvalidArgumentValueError });
  t.throws(() => sim.kill(other), { instanceOf: InvalidArgumentValueError, message: /unknown member 'stranger'/ });
  t.throws(() => sim.pause(other, 10), { instanceOf: InvalidArgumentValueError });
  t.throws(() => sim.partition([other]), { instanceOf: InvalidArgumentValueError });
  t.throws(() => sim.member('nobody'), { instanceOf: InvalidArgumentValueError });
  t.throws(() => sim.run(-5), { instanceOf: InvalidArgumentValueError });
  t.throws(() => sim.at(Number.NaN, () => {}), { instanceOf: InvalidArgumentValueError });
  t.throws(() => runMembershipScenario({ members: 1 }), { instanceOf: InvalidArgumentValueError });
  t.throws(() => runMembershipScenario({ loss: -1 }), { instanceOf: InvalidArgumentValueError });
  t.throws(() => runMembershipScenario({ partition: { fromMs: 10, toMs: 5 } }), { instanceOf: InvalidArgumentValueError });
  t.is(sim.nowMs, 0);
});

test('examples/simulate.js prints the 100-member row of the membership table as bench/membership-sim prints it', (t) => {
  const run = (file: string, args: string[] = []): string[] => {
    const r = spawnSync(process.execPath, [join(__dirname, '..', file), ...args], { encoding: 'utf8', timeout: 60_000 });
    t.is(r.status, 0, r.stderr);
    // Everything up to the wall time, which is the machine's.
    const lines = r.stdout.split('\n');
    return lines.slice(0, lines.findIndex((l) => l.startsWith('virtual run / wall time')));
  };
  const bench = run('bench/membership-sim.js', ['--members', '100', '--loss', '0.1']);
  t.is(bench.length, 9);
  t.deepEqual(run('examples/simulate.js'), bench);
});
