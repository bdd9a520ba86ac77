import test from 'ava';
import { GroupSim, type GroupNode } from './group-sim';

test('with 10% random loss and no failures no member is ever declared dead over 10 simulated minutes', (t) => {
  const sim = new GroupSim({ seed: 21, loss: 0.1 });
  const nodes: GroupNode[] = [];
  for (let i = 0; i < 50; i++) sim.at(i * 5, () => nodes.push(sim.add(`m${i}`)));
  sim.run(300);
  t.true(sim.runWhile(() => !sim.converged(), 10_000));
  const startMs = sim.nowMs;
  sim.run(10 * 60_000);
  const sum = (f: (n: GroupNode) => number) => nodes.reduce((s, n) => s + f(n), 0);
  const deaths = sum((n) => n.events.filter((e) => e.type === 'dead' || e.type === 'leave').length);
  const suspicions = sum((n) => n.m.stats().suspicionsRaised);
  const refutations = sum((n) => n.m.stats().refutations);
  const probes = sum((n) => n.m.stats().pingsSent);
  t.log(`${((sim.nowMs - startMs) / 60_000).toFixed(1)} min at 10% loss: ${probes} pings, ${sum((n) => n.m.stats().probesFailed)} failed probes, ${suspicions} suspicions, ${refutations} refutations, ${deaths} deaths; ${sim.lost} of ${sim.lost + sim.delivered} deliveries lost`);
  t.is(deaths, 0);
  t.true(sim.lost > 0.09 * (sim.lost + sim.delivered));
  t.true(nodes.every((n) => n.m.members().length === 50));
});
