import test from 'ava';
import { GroupSim, type GroupNode } from './group-sim';

function grow(sim: GroupSim, count: number, spacingMs: number): GroupNode[] {
  const nodes: GroupNode[] = [];
  for (let i = 0; i < count; i++) {
    sim.at(sim.nowMs + i * spacingMs, () => nodes.push(sim.add(`m${i}`, { role: i % 2 === 0 ? 'worker' : 'collector', index: String(i) })));
  }
  return nodes;
}

test('50 members join and converge within the documented convergence time of the last join', (t) => {
  const sim = new GroupSim({ seed: 1 });
  const nodes = grow(sim, 50, 20);
  sim.run(50 * 20);
  const lastJoinMs = sim.nowMs;
  t.true(sim.runWhile(() => !sim.converged(), 10_000));
  const tookMs = sim.nowMs - lastJoinMs;
  const bound = nodes[0]!.m.timers().convergeMs;
  t.log(`50 members converged ${tookMs.toFixed(0)} ms after the last join (virtual t = ${sim.nowMs.toFixed(0)} ms); documented ${bound} ms`);
  t.true(tookMs <= bound + 20);
  const workers = nodes[3]!.m.members({ role: 'worker' });
  t.is(workers.length, 25);
  t.true(workers.every((m) => Number(m.metadata['index']) % 2 === 0));
  sim.run(30_000);
  t.true(sim.converged());
  t.is(nodes.reduce((s, n) => s + n.m.stats().deathsDeclared + n.m.stats().suspicionsRaised, 0), 0);
});

function converged50(seed: number, loss = 0): { sim: GroupSim; nodes: GroupNode[] } {
  const sim = new GroupSim({ seed, loss });
  const nodes = grow(sim, 50, 5);
  sim.run(300);
  if (!sim.runWhile(() => !sim.converged(), 10_000)) throw new Error('did not converge');
  return { sim, nodes };
}

test('a member killed without leaving is declared dead by every other member within the documented bound', (t) => {
  const { sim, nodes } = converged50(2);
  sim.run(5000);
  const victim = nodes[17]!;
  const bound = nodes[0]!.m.timers().deadBoundMs;
  const killedMs = sim.nowMs;
  sim.kill(victim);
  const others = nodes.filter((n) => n !== victim);
  const deadAt = (n: GroupNode) => n.events.find((e) => e.type === 'dead' && e.id === victim.id && e.atMs >= killedMs)?.atMs;
  t.true(sim.runWhile(() => others.some((n) => deadAt(n) === undefined), bound + 5000));
  const times = others.map((n) => deadAt(n)! - killedMs);
  const first = Math.min(...times);
  const last = Math.max(...times);
  t.log(`dead at every member ${first.toFixed(0)}–${last.toFixed(0)} ms after the kill; documented bound ${bound.toFixed(0)} ms`);
  t.true(last <= bound);
  t.true(others.every((n) => n.events.some((e) => e.type === 'suspect' && e.id === victim.id)));
  t.true(others.every((n) => n.m.members().length === 49 && !n.m.members().some((m) => m.id === victim.id)));
});

test('a graceful leave removes the member from every other member at once', (t) => {
  const { sim, nodes } = converged50(3);
  const leaver = nodes[5]!;
  const leftMs = sim.nowMs;
  sim.leave(leaver);
  sim.run(50);
  const others = nodes.filter((n) => n !== leaver);
  const leaveAt = others.map((n) => n.events.find((e) => e.type === 'leave' && e.id === leaver.id)?.atMs);
  t.true(leaveAt.every((x) => x !== undefined && x - leftMs < 5));
  t.false(others.some((n) => n.events.some((e) => e.type === 'dead' && e.id === leaver.id)));
  t.true(others.every((n) => n.m.members().length === 49));
  t.deepEqual(leaver.m.members(), []);
  t.is(leaver.m.pollTimeout(), undefined);
});

test('a member that is suspected refutes by raising its incarnation and is never declared dead', (t) => {
  const { sim, nodes } = converged50(4);
  const victim = nodes[9]!;
  // Silence it for two probe periods: probes fail, it is suspected, then it hears the suspicion and refutes.
  victim.side = 1;
  const pausedMs = sim.nowMs;
  t.true(sim.runWhile(() => !nodes.some((n) => n.events.some((e) => e.type === 'suspect' && e.id === victim.id)), 20_000));
  victim.side = 0;
  sim.run(nodes[0]!.m.timers().suspicionTimeoutMs + 2000);
  const others = nodes.filter((n) => n !== victim);
  t.log(`suspected ${((nodes.flatMap((n) => n.events).find((e) => e.type === 'suspect' && e.id === victim.id)?.atMs ?? 0) - pausedMs).toFixed(0)} ms after being cut off; incarnation now ${victim.m.members().find((m) => m.self)!.incarnation}`);
  t.false(others.some((n) => n.events.some((e) => e.type === 'dead' && e.id === victim.id)));
  t.true(others.every((n) => n.m.members().find((m) => m.id === victim.id)?.state === 'alive'));
  t.true(victim.m.stats().refutations >= 1);
  t.true(others.some((n) => n.events.some((e) => e.type === 'alive' && e.id === victim.id)));
});

test('with 10% loss a killed member is still declared dead everywhere within the bound, and nobody else is', (t) => {
  const { sim, nodes } = converged50(5, 0.1);
  sim.run(3000);
  const victims = [nodes[3]!, nodes[30]!];
  const bound = nodes[0]!.m.timers().deadBoundMs;
  const killedMs = sim.nowMs;
  for (const v of victims) sim.kill(v);
  const others = nodes.filter((n) => !victims.includes(n));
  const deadAt = (n: GroupNode, v: GroupNode) => n.events.find((e) => e.type === 'dead' && e.id === v.id)?.atMs;
  t.true(sim.runWhile(() => others.some((n) => victims.some((v) => deadAt(n, v) === undefined)), bound + 5000));
  const last = Math.max(...others.flatMap((n) => victims.map((v) => deadAt(n, v)! - killedMs)));
  t.log(`two kills at 10% loss: dead everywhere within ${last.toFixed(0)} ms (bound ${bound.toFixed(0)} ms)`);
  t.true(last <= bound);
  sim.run(10_000);
  t.true(others.every((n) => n.events.filter((e) => e.type === 'dead').length === 2 && n.m.members().length === 48));
});

test('a member that missed a newcomer\'s announce learns it, with its metadata, from table sync within a period, not at the next announce', (t) => {
  const { sim, nodes } = converged50(4);
  const deaf = nodes[9]!;
  const learnedBefore = deaf.m.stats().recordsLearned; // the members that joined before it
  // The deaf member hears nothing while the newcomer announces itself.
  deaf.side = 1;
  const newcomer = sim.add('late', { role: 'collector', zone: 'b' });
  sim.run(1);
  deaf.side = 0;
  const healedMs = sim.nowMs;
  t.false(deaf.m.members().some((m) => m.id === newcomer.id), 'the deaf member missed the announce');
  const knows = () => deaf.m.members().some((m) => m.id === newcomer.id);
  t.true(sim.runWhile(() => !knows(), 10_000, 1));
  const tookMs = sim.nowMs - healedMs;
  const timers = deaf.m.timers();
  t.log(`learned the newcomer ${tookMs.toFixed(0)} ms after it could hear again (period ${timers.periodMs} ms, announce interval ${timers.announceIntervalMs} ms)`);
  t.true(tookMs <= timers.periodMs + 200, `took ${tookMs} ms`);
  t.deepEqual(deaf.m.members().find((m) => m.id === newcomer.id)!.metadata, { role: 'collector', zone: 'b' });
  t.is(deaf.m.stats().recordsLearned - learnedBefore, 1);
  t.true(deaf.m.stats().wantsSent >= 1);
  // The newcomer learned all 50 from RECORDS, not from 50 announces.
  t.true(sim.runWhile(() => !sim.converged(), newcomer.m.timers().convergeMs));
  t.true(newcomer.m.stats().recordsLearned >= 40, `newcomer learned ${newcomer.m.stats().recordsLearned} from records`);
});

test('a newcomer to 300 members at 10 % loss learns every one within the documented convergence time, at a bounded cost to the others', (t) => {
  const sim = new GroupSim({ seed: 5, loss: 0.1 });
  const nodes: GroupNode[] = [];
  for (let i = 0; i < 300; i++) sim.at(i * 3, () => nodes.push(sim.add(`m${i}`, { index: String(i) })));
  sim.run(900);
  t.true(sim.runWhile(() => !sim.sizesConverged(), 10_000));
  sim.run(5000);
  const before = nodes.map((n) => n.m.stats().bytesSent);
  const joinedMs = sim.nowMs;
  const newcomer = sim.add('late');
  t.true(sim.runWhile(() => newcomer.m.stats().members < 300, 10_000, 5));
  const tookMs = sim.nowMs - joinedMs;
  const bound = newcomer.m.timers().convergeMs;
  const sentKb = nodes.reduce((s, n, i) => s + n.m.stats().bytesSent - before[i]!, 0) / 1024;
  t.log(`the newcomer knew all 300 after ${tookMs.toFixed(0)} ms (documented ${bound} ms); the others sent ${sentKb.toFixed(1)} kB meanwhile (${newcomer.m.stats().recordsLearned} records learned)`);
  t.true(tookMs <= bound);
  t.true(newcomer.m.members().every((m) => m.self || m.metadata['index'] !== undefined));
  // Heartbeats of 300 members over that time, plus one table's worth of records (≈ 30 bytes each) a few times over: not one announce per member per newcomer.
  t.true(sentKb < (300 * 45 * tookMs) / 1000 / 1024 + 4 * 300 * 40 / 1024, `${sentKb} kB`);
});

test('a member whose table is full stops asking for the members it cannot hold', (t) => {
  const sim = new GroupSim({ seed: 6, tuning: { maxMembers: 5 } });
  const nodes: GroupNode[] = [];
  for (let i = 0; i < 12; i++) sim.at(i * 5, () => nodes.push(sim.add(`m${i}`)));
  sim.run(5000);
  const wantsAt5s = nodes.map((n) => n.m.stats().wantsSent);
  sim.run(20_000);
  const wants = nodes.map((n, i) => n.m.stats().wantsSent - wantsAt5s[i]!);
  t.log(`WANTs sent in the 20 s after the tables filled: ${wants.join(', ')}`);
  t.true(nodes.every((n) => n.m.stats().members === 5));
  t.true(wants.every((w) => w === 0));
});

test('a newcomer to a small group is told the table at once: members heartbeat early when it announces itself', (t) => {
  const { sim, nodes } = converged50(7);
  sim.run(3000);
  const heartbeatsBefore = nodes.reduce((s, n) => s + n.m.stats().heartbeatsSent, 0);
  const joinedMs = sim.nowMs;
  const newcomer = sim.add('late');
  t.true(sim.runWhile(() => newcomer.m.stats().members < 50, 2000, 1));
  const tookMs = sim.nowMs - joinedMs;
  const heartbeats = nodes.reduce((s, n) => s + n.m.stats().heartbeatsSent, 0) - heartbeatsBefore;
  t.log(`the newcomer knew all 50 after ${tookMs.toFixed(0)} ms (period ${newcomer.m.timers().periodMs} ms); the 50 sent ${heartbeats} heartbeats meanwhile`);
  // A heartbeat within the sync delay, then WANT, SUMMARY, WANT, RECORDS.
  t.true(tookMs <= 200, `took ${tookMs} ms`);
  // Not all 50 answered the join with a heartbeat: those that had heard three already stayed quiet.
  t.true(heartbeats < 25, `${heartbeats} heartbeats`);
});
