/**
 * blipcast/sim, channel level: real channels (public open() on the memory
 * transport) on a seeded virtual-time network with scripted faults, and the
 * statistics a user reads from Simulation.report().
 */

import test from 'ava';
import type { Channel, Message } from '../src/index';
import { InvalidArgumentTypeError, InvalidArgumentValueError } from '../src/util/errors';
import { Simulation, type SimulationOptions } from '../src/sim';

/** Short membership timers: detection in a few seconds of virtual time. */
const FAST = { probeIntervalMs: 200, probeTimeoutMs: 80, announceIntervalMs: 200, suspicionMult: 2 };

function member(name: string) {
  return { member: { name, tuning: FAST } };
}

/** Reads every message of `channel` into a list, until it closes (the loop is left running). */
function reader(channel: Channel): Message[] {
  const got: Message[] = [];
  void (async () => {
    for await (const m of channel) got.push(m);
  })();
  return got;
}

/** One sender writes `count` messages over lossy links to `receivers`; returns what each got. */
async function lossyRun(options: SimulationOptions, count: number, receivers = 2) {
  const sim = new Simulation(options);
  const tx = await sim.channel('tx');
  const rxs: Message[][] = [];
  for (let i = 0; i < receivers; i++) rxs.push(reader(await sim.channel(`rx${i}`)));
  await sim.run(10);
  for (let i = 0; i < count; i++) sim.at(10 + i, () => tx.write(`message ${i}`));
  const done = await sim.runUntil(() => rxs.every((got) => got.length >= count), 30_000);
  return { sim, tx, rxs, done };
}

test('a lossy, jittery, duplicating link is repaired exactly: every receiver gets every message once, in order, after NAKs', async (t) => {
  const N = 300;
  const { sim, rxs, done } = await lossyRun({ seed: 11, link: { lossRate: 0.1, duplicateRate: 0.02, delayMs: 1, jitterMs: 2 } }, N);
  t.true(done);
  for (const got of rxs) t.deepEqual(got.map((m) => m.data.toString()), Array.from({ length: N }, (_, i) => `message ${i}`));
  const r = sim.report();
  t.is(r.totals.messagesLost, 0);
  t.deepEqual(r.totals.losses, []);
  t.true(r.totals.naksSent > 0, `NAKs sent: ${r.totals.naksSent}`);
  t.true(r.channels[0]!.repairsSent > 0, `repairs sent: ${r.channels[0]!.repairsSent}`);
  t.is(r.channels[0]!.messagesWritten, N);
  t.deepEqual(r.channels.slice(1).map((c) => c.messagesReceived), [N, N]);
  t.true(r.links.dropped > 0 && r.links.duplicated > 0);
  t.log(`virtual ${r.nowMs} ms: ${r.links.dropped} datagrams dropped, ${r.totals.naksSent} NAKs, ${r.totals.repairsReceived} repairs received`);
  await sim.closeAll();
});

test('the same seed replays the same run; another seed gives another', async (t) => {
  const summary = async (seed: number) => {
    const { sim, done } = await lossyRun({ seed, link: { lossRate: 0.15, reorderRate: 0.1, jitterMs: 3 } }, 100);
    const r = sim.report();
    await sim.closeAll();
    return { done, nowMs: r.nowMs, links: r.links, channels: r.channels.map((c) => ({ ...c, losses: c.losses.length })) };
  };
  const a = await summary(5);
  t.true(a.done);
  t.deepEqual(await summary(5), a);
  t.notDeepEqual(await summary(6), a);
});

test('a crashed member is declared dead by every other member within the dead bound, and nobody else is', async (t) => {
  const sim = new Simulation({ seed: 21, link: { delayMs: 0.5 } });
  const chans: Channel[] = [];
  for (const name of ['a', 'b', 'c', 'd']) chans.push(await sim.channel(name, member(name)));
  t.true(await sim.runUntil(() => sim.converged(), 5000));
  const bound = chans[0]!.group!.timers().deadBoundMs;
  const crashAtMs = sim.nowMs + 100;
  sim.at(crashAtMs, () => sim.crash('c'));
  const detected = () => sim.report().membership.detections.some((d) => d.declared === d.expected);
  t.true(await sim.runUntil(detected, bound + 1000));
  const m = sim.report().membership;
  t.is(m.detections.length, 1);
  const d = m.detections[0]!;
  t.like(d, { host: 'c', id: chans[2]!.info.sessionId, crashedAtMs: crashAtMs, expected: 3, declared: 3 });
  t.true(d.lastMs! <= bound, `declared dead everywhere ${d.lastMs} ms after the crash; bound ${bound} ms`);
  t.is(m.falseDeaths, 0);
  t.is(m.suspicions, 0, 'only the crashed member was suspected');
  await sim.run(50);
  t.true(sim.converged());
  const crashEpisode = sim.report().membership.convergence.at(-1)!;
  t.deepEqual(crashEpisode.causes, ['c crashed']);
  t.true(crashEpisode.convergedMs !== null && crashEpisode.convergedMs <= bound);
  t.is(sim.list()[2]!.state, 'crashed');
  await sim.closeAll();
  t.deepEqual(sim.list().map((c) => c.state), ['closed', 'closed', 'crashed', 'closed']);
});

test('only the members that knew a crashed member are expected to declare it dead', async (t) => {
  const sim = new Simulation({ seed: 25, link: { delayMs: 0.5 } });
  const a = await sim.channel('a', member('a'));
  const b = await sim.channel('b', member('b'));
  sim.host('c');
  // Cut off from both: b's table sync would otherwise tell a about c.
  sim.partition(['a'], ['b', 'c']);
  const c = await sim.channel('c', member('c'));
  t.true(await sim.runUntil(() => b.group!.members().some((m) => m.id === c.info.sessionId), 5000));
  t.false(a.group!.members().some((m) => m.id === c.info.sessionId));
  sim.crash('c');
  const bound = b.group!.timers().deadBoundMs;
  t.true(await sim.runUntil(() => sim.report().membership.detections[0]!.declared === 1, bound + 1000));
  t.like(sim.report().membership.detections[0], { host: 'c', expected: 1, declared: 1 });
  await sim.closeAll();
});

test('a pause shorter than the suspicion timeout kills nobody; one longer than the dead bound is a false death, and the member comes back', async (t) => {
  const sim = new Simulation({ seed: 22, link: { delayMs: 0.5 } });
  const chans: Channel[] = [];
  for (const name of ['a', 'b', 'c']) chans.push(await sim.channel(name, member(name)));
  t.true(await sim.runUntil(() => sim.converged(), 5000));
  const timers = chans[0]!.group!.timers();
  sim.pause('b', timers.suspicionTimeoutMs / 2);
  await sim.run(timers.deadBoundMs * 2);
  t.is(sim.report().membership.falseDeaths, 0);
  t.true(sim.converged());

  sim.pause('b', timers.deadBoundMs * 2);
  await sim.run(timers.deadBoundMs * 2 + 10);
  t.is(sim.report().membership.falseDeaths, 2, 'a and c declared the paused b dead');
  t.true(await sim.runUntil(() => sim.converged(), 10_000), 'b, resumed, rejoined');
  await sim.closeAll();
});

test('a partition splits the group and heal() reunites it; deaths across the split are counted apart', async (t) => {
  const sim = new Simulation({ seed: 23, link: { delayMs: 0.5 } });
  for (const name of ['a', 'b', 'c', 'd']) await sim.channel(name, member(name));
  t.true(await sim.runUntil(() => sim.converged(), 5000));
  sim.partition(['a', 'b'], ['c', 'd']);
  t.true(await sim.runUntil(() => sim.converged(), 10_000), 'each side converges on itself');
  t.true(sim.list().every((c) => c.channel.group!.members().length === 2));
  sim.heal();
  t.true(await sim.runUntil(() => sim.converged(), 10_000));
  t.true(sim.list().every((c) => c.channel.group!.members().length === 4));
  const m = sim.report().membership;
  t.true(m.partitionDeaths >= 8, `each of the four declared the two on the other side dead (${m.partitionDeaths} partition deaths)`);
  t.is(m.falseDeaths, 0);
  const [split, heal] = m.convergence.slice(-2);
  t.deepEqual([split!.causes, heal!.causes], [['partition a,b | c,d'], ['heal']]);
  t.true(split!.convergedMs! > 0 && heal!.convergedMs! > 0);
  t.log(`split settled in ${split!.convergedMs} ms, reunited ${heal!.convergedMs} ms after the heal`);
  await sim.closeAll();
});

test('a scripted action that throws fails the run with its error', async (t) => {
  const sim = new Simulation({ seed: 24 });
  sim.at(5, () => {
    throw new Error('boom');
  });
  sim.at(6, () => Promise.reject(new Error('async boom')));
  await t.throwsAsync(sim.run(100), { message: 'boom' });
  t.is(sim.nowMs, 5);
  await t.throwsAsync(sim.run(100), { message: 'async boom' });
});

test('bad input is refused with a typed error', async (t) => {
  t.throws(() => new Simulation({ stepMs: 0 }), { instanceOf: InvalidArgumentValueError });
  t.throws(() => new Simulation({ seed: {} as unknown as number }), { instanceOf: InvalidArgumentTypeError });
  t.throws(() => new Simulation({ link: { lossRate: -0.1 } }), { instanceOf: InvalidArgumentValueError });
  const sim = new Simulation();
  sim.host('a');
  t.throws(() => sim.setLink('*', '*', { lossRate: 2 }), { instanceOf: InvalidArgumentValueError });
  t.throws(() => sim.crash('nobody'), { instanceOf: InvalidArgumentValueError, message: /unknown host 'nobody'/ });
  t.throws(() => sim.pause('nobody', 10), { instanceOf: InvalidArgumentValueError });
  t.throws(() => sim.pause('a', -1), { instanceOf: InvalidArgumentValueError });
  t.throws(() => sim.partition(['a'], ['nobody']), { instanceOf: InvalidArgumentValueError });
  t.throws(() => sim.partition([new Simulation().host('a')], []), { instanceOf: InvalidArgumentValueError }, 'a host of another simulation');
  await sim.run(10);
  t.throws(() => sim.at(5, () => {}), { instanceOf: InvalidArgumentValueError }, 'in the past');
  await t.throwsAsync(sim.run(-1), { instanceOf: InvalidArgumentValueError });
  await t.throwsAsync(sim.channel('a', { member: { name: 'a', tuning: { probeIntervalMs: -1 } } }), { instanceOf: InvalidArgumentValueError, message: /probeIntervalMs/ });
  await t.throwsAsync(sim.close({} as Channel), { instanceOf: InvalidArgumentValueError });
});
