/**
 * Group membership through the public Channel API on the simulated network
 * (seeded, virtual time): channels opened with `member` share the channel's
 * socket and session id, see each other, leave on close, and 'min' flow
 * control paces to the live members.
 */

import test from 'ava';
import type { Channel, GroupChange, MemberInfo } from '../src/api/channel';
import { InvalidArgumentTypeError, InvalidArgumentValueError } from '../src/util/errors';
import { MemoryNetwork } from '../src/transport/memory';
import { drive, memory, settle } from './helpers/channel-memory';

function member(name: string, metadata: Record<string, string> = {}) {
  return { member: { name, metadata } };
}

function ids(list: MemberInfo[]): string[] {
  return list.map((m) => m.id);
}

async function group(net: MemoryNetwork, names: string[], extra: (name: string) => Record<string, unknown> = () => ({})): Promise<Channel[]> {
  const out: Channel[] = [];
  for (const name of names) out.push(await memory(net, name, { ...member(name, { role: name === names[0] ? 'sender' : 'reader' }), ...extra(name) }));
  return out;
}

test('three member channels see each other, with names and metadata, within the documented convergence time', async (t) => {
  const net = new MemoryNetwork({ seed: 1, link: { delayMs: 0.5 } });
  const chans = await group(net, ['a', 'b', 'c']);
  const joins: string[] = [];
  chans[0]!.group!.on('join', (m) => joins.push(m.name));
  const startMs = net.nowMs();
  const convergeMs = chans[0]!.group!.timers().convergeMs;
  t.true(await drive(net, () => chans.every((ch) => ch.group!.members().length === 3), convergeMs));
  t.log(`converged after ${net.nowMs() - startMs} ms of virtual time (documented ${convergeMs} ms)`);
  const expected = chans.map((ch) => ch.info.sessionId).sort();
  for (const ch of chans) {
    t.deepEqual(ids(ch.group!.members()), expected);
    t.is(ch.group!.self.id, ch.info.sessionId, 'a member id is the channel session id');
    t.true(ch.group!.self.self);
  }
  const seenByA = chans[0]!.group!.members();
  t.deepEqual(seenByA.map((m) => [m.name, m.metadata.role, m.state]).sort(), [['a', 'sender', 'alive'], ['b', 'reader', 'alive'], ['c', 'reader', 'alive']]);
  t.deepEqual(joins.sort(), ['b', 'c']);
  t.deepEqual(chans[1]!.group!.members({ role: 'reader' }).map((m) => m.name).sort(), ['b', 'c']);
  t.deepEqual(chans[1]!.group!.members((m) => m.name === 'a').map((m) => m.id), [chans[0]!.info.sessionId]);
  for (const ch of chans) await settle(net, ch.close());
});

test('a channel without the member option has no group and sends no membership traffic', async (t) => {
  const net = new MemoryNetwork({ seed: 2 });
  const plain = await memory(net, 'p');
  const m = await memory(net, 'm', member('m'));
  await drive(net, () => false, 3000);
  t.is(plain.group, undefined);
  t.is(plain.stats().group, undefined);
  t.is(m.group!.members().length, 1, 'a plain channel is not a member');
  const st = m.stats().group!;
  t.true(st.announcesSent >= 1 && st.heartbeatsSent >= 2, `announces sent: ${st.announcesSent}, heartbeats sent: ${st.heartbeatsSent}`);
  t.is(plain.stats().protocol.datagramsSent, 0, 'the plain channel sent nothing');
  t.is(m.stats().protocol.datagramsSent, 0, 'membership datagrams are not counted as protocol datagrams');
  for (const ch of [plain, m]) await settle(net, ch.close());
});

test('closing a member channel sends LEAVE: the others report leave at once, never dead', async (t) => {
  const net = new MemoryNetwork({ seed: 3, link: { delayMs: 0.5 } });
  const [a, b, c] = await group(net, ['a', 'b', 'c']);
  t.true(await drive(net, () => a!.group!.members().length === 3, 2000));
  const events: string[] = [];
  for (const ch of [a!, b!]) for (const type of ['leave', 'dead', 'suspect'] as const) ch.group!.on(type, (m) => events.push(`${ch.group!.self.name}:${type}:${m.name}`));
  const closedAtMs = net.nowMs();
  await settle(net, c!.close());
  t.true(await drive(net, () => events.length >= 2, 50), `events: ${events.join(', ')}`);
  t.log(`leave seen ${net.nowMs() - closedAtMs} ms (virtual) after close() was called`);
  t.deepEqual(events.sort(), ['a:leave:c', 'b:leave:c']);
  t.deepEqual(c!.group!.members(), [], 'a closed member has no table');
  await drive(net, () => false, 20_000);
  t.deepEqual(events.sort(), ['a:leave:c', 'b:leave:c'], 'nothing more about c after it left');
  for (const ch of [a!, b!]) await settle(net, ch.close());
});

test('changes() yields every change in order, reports dropped changes as missed, and ends when the channel closes', async (t) => {
  const net = new MemoryNetwork({ seed: 4, link: { delayMs: 0.5 } });
  const a = await memory(net, 'a', member('a'));
  const all = a.group!.changes();
  const small = a.group!.changes({ maxBuffered: 2 });
  const others = await group(net, ['b', 'c', 'd', 'e']);
  t.true(await drive(net, () => a.group!.members().length === 5, 2000));
  await settle(net, others[0]!.close());
  await drive(net, () => a.group!.members().length === 4, 100);

  const got: GroupChange[] = [];
  const reading = (async () => {
    for await (const change of all) got.push(change);
  })();
  await drive(net, () => got.length >= 5, 100);
  t.deepEqual(got.map((c) => `${c.type}:${c.member.name}:${c.missed}`), ['join:b:0', 'join:c:0', 'join:d:0', 'join:e:0', 'leave:b:0']);

  // The slow consumer kept only the newest 2 of 5: the first it reads says 3 were dropped before it.
  const first = await small.next();
  const second = await small.next();
  t.deepEqual([first.value, second.value].map((c: GroupChange) => `${c.type}:${c.member.name}:${c.missed}`), ['join:e:3', 'leave:b:0']);
  await small.return!();

  const ac = new AbortController();
  const aborted = a.group!.changes({ signal: ac.signal });
  ac.abort();
  t.deepEqual(await aborted.next(), { value: undefined, done: true }, 'aborting ends the iteration without an error');
  t.deepEqual(await a.group!.changes({ signal: AbortSignal.abort() }).next(), { value: undefined, done: true }, 'an aborted signal ends it at once');
  t.throws(() => a.group!.changes({ maxBuffered: 0 }), { instanceOf: InvalidArgumentValueError });

  await settle(net, a.close());
  await reading; // ends on close
  t.pass();
  for (const ch of others.slice(1)) await settle(net, ch.close());
});

test('the member option is validated before anything opens', async (t) => {
  const net = new MemoryNetwork({ seed: 5 });
  await t.throwsAsync(memory(net, 'x', { member: 'x' as never }), { instanceOf: InvalidArgumentTypeError, message: /options\.member/ });
  await t.throwsAsync(memory(net, 'x', { member: { name: 'x', metadata: { a: 1 as never } } }), { instanceOf: InvalidArgumentTypeError, message: /metadata\.a/ });
  await t.throwsAsync(memory(net, 'x', { member: { name: 'x', colour: 'red' } as never }), { instanceOf: InvalidArgumentValueError, message: /member\.colour/ });
  await t.throwsAsync(memory(net, 'x', { member: { name: 'x', tuning: { probeIntervalMs: -1 } } }), { instanceOf: InvalidArgumentValueError, message: /probeIntervalMs/ });
  await t.throwsAsync(memory(net, 'x', { member: { name: 'x', metadata: { big: 'v'.repeat(2000) } } }), { instanceOf: InvalidArgumentValueError, message: /options\.member: .*one datagram/ });
});

/**
 * A sender writing 1 KiB messages as fast as 'min' flow control lets it
 * (at most 64 per ms of virtual time). Records when each write was accepted.
 */
function flood(net: MemoryNetwork, ch: Channel): { written: number; times: number[]; progressAfter: (ms: number) => number | undefined; progressBefore: (ms: number) => number | undefined; stop: () => void } {
  const state = { written: 0, stopped: false, times: [] as number[] };
  const data = Buffer.alloc(1024, 7);
  let blocked = false;
  const pump = (): void => {
    if (state.stopped || blocked) return;
    for (let i = 0; i < 64; i++) {
      state.written++;
      state.times.push(net.nowMs());
      if (!ch.write(data)) {
        blocked = true;
        return;
      }
    }
  };
  ch.on('drain', () => {
    blocked = false;
    pump();
  });
  const tick = (): void => {
    if (state.stopped) return;
    pump();
    net.setTimer(tick, 1);
  };
  tick();
  return {
    times: state.times,
    get written() {
      return state.written;
    },
    progressAfter: (ms) => state.times.find((x) => x > ms),
    progressBefore: (ms) => [...state.times].reverse().find((x) => x < ms),
    stop: () => void (state.stopped = true),
  };
}

test("under 'min' a killed member holds the sender only until the group declares it dead, not for receiverTimeoutMs", async (t) => {
  const net = new MemoryNetwork({ seed: 6, link: { delayMs: 0.5 } });
  // A long receiver timeout: without the membership the sender would wait this long for a dead receiver.
  const [a, b, c] = await group(net, ['a', 'b', 'c'], () => ({ windowBytes: 256 * 1024, maxMessageBytes: 1024, receiverTimeoutMs: 120_000 }));
  t.true(await drive(net, () => a!.group!.members().length === 3, 2000));
  const dropped: string[] = [];
  a!.on('receiver-dropped', (r, reason) => dropped.push(`${r.id === c!.info.sessionId ? 'c' : r.id}:${reason}`));
  let deadAtMs: number | undefined;
  a!.group!.on('dead', (m) => {
    if (m.id === c!.info.sessionId) deadAtMs = net.nowMs();
  });
  let readB = 0;
  b!.readable.on('data', () => readB++);
  c!.readable.on('data', () => undefined);
  const f = flood(net, a!);
  await drive(net, () => false, 1000);
  t.true(readB > 500, `b read ${readB} messages while everyone was alive`);
  t.is(a!.stats().protocol.receivers, 2);

  // kill -9 c: from now on nothing it sends arrives and it hears nothing.
  net.partition(['c'], ['a', 'b']);
  const killedAtMs = net.nowMs();
  const bound = a!.group!.timers().deadBoundMs;
  t.true(await drive(net, () => deadAtMs !== undefined, bound + 1000), `a did not declare c dead within ${bound} ms`);
  const stalledFromMs = f.progressBefore(deadAtMs!)!;
  await drive(net, () => f.progressAfter(deadAtMs! - 1) !== undefined, 1000);
  const resumedAtMs = f.progressAfter(deadAtMs! - 1);
  f.stop();
  const ms = (x: number | undefined) => (x === undefined ? 'never' : `${Math.round(x)} ms`);
  t.log(
    `c killed at ${ms(killedAtMs)}; a's last accepted write before the stall at ${ms(stalledFromMs)}; c declared dead at ${ms(deadAtMs)} ` +
      `(${ms(deadAtMs! - killedAtMs)} after the kill, bound ${ms(bound)}, receiverTimeoutMs 120000 ms); writes resumed at ${ms(resumedAtMs)}: stalled ${ms(resumedAtMs! - stalledFromMs)}`,
  );
  t.true(deadAtMs! - killedAtMs <= bound);
  t.true(deadAtMs! - stalledFromMs > 1000, 'the killed member held the window until it was declared dead');
  t.not(resumedAtMs, undefined, 'the sender went on after c was declared dead');
  t.true(resumedAtMs! - deadAtMs! <= 5, `resumed ${resumedAtMs! - deadAtMs!} ms after the dead declaration`);
  t.deepEqual(dropped, ['c:dead'], 'dropped once, because it died (not for silence)');
  t.is(a!.stats().protocol.receivers, 1);
  for (const ch of [a!, b!]) await settle(net, ch.close());
  await settle(net, c!.close());
});

for (const streamRunning of [true, false]) {
test(`under 'min' a member that joins ${streamRunning ? 'while a stream runs' : 'before the stream starts'} is waited for before it has reported any status`, async (t) => {
  const net = new MemoryNetwork({ seed: 7, link: { delayMs: 0.5 } });
  const opts = { windowBytes: 128 * 1024, maxMessageBytes: 1024, receiverTimeoutMs: 120_000 };
  const [a, b] = await group(net, ['a', 'b'], () => opts);
  t.true(await drive(net, () => a!.group!.members().length === 2, 2000));
  b!.readable.on('data', () => undefined);
  let f = streamRunning ? flood(net, a!) : undefined;
  await drive(net, () => false, 200);
  const receiverEvents: string[] = [];
  let cId = '';
  a!.on('receiver', (r) => {
    receiverEvents.push(r.id);
    // Cut c off the moment a learns of it: c never gets to report status.
    if (r.id === cId) net.partition(['c'], ['a', 'b']);
  });
  const c = await memory(net, 'c', { ...member('c'), ...opts });
  cId = c.info.sessionId;
  const joinedAtMs = net.nowMs();
  await drive(net, () => receiverEvents.includes(cId), 100);
  t.deepEqual(receiverEvents, [cId], "a counts c as a receiver from its join (event 'receiver')");
  t.is(a!.stats().protocol.receivers, 2);
  f ??= flood(net, a!);
  const writtenAtJoin = f.written;
  // The window fills with data c has not acknowledged: the sender stops.
  await drive(net, () => false, 2000);
  const stalled = f.written;
  await drive(net, () => false, 1000);
  t.is(f.written, stalled, 'a is blocked by the member that joined');
  t.true(stalled - writtenAtJoin <= 256, `a wrote ${stalled - writtenAtJoin} messages after c joined (window 128 KiB of 1 KiB messages)`);
  let deadAtMs: number | undefined;
  a!.group!.on('dead', () => (deadAtMs = net.nowMs()));
  t.true(await drive(net, () => deadAtMs !== undefined, a!.group!.timers().deadBoundMs + 1000));
  await drive(net, () => f.written > stalled, 100);
  f.stop();
  t.log(`c joined at ${joinedAtMs} ms and was cut off; a blocked after ${stalled - writtenAtJoin} more messages; c declared dead at ${Math.round(deadAtMs!)} ms; a resumed at ${Math.round(net.nowMs())} ms`);
  t.true(f.written > stalled, 'a resumed once c was declared dead');
  for (const ch of [a!, b!, c]) await settle(net, ch.close());
});
}

test("paceTo: a member outside it never holds the sender, even stalled, and is not waited for at close", async (t) => {
  const net = new MemoryNetwork({ seed: 8, link: { delayMs: 0.5 } });
  const opts = { windowBytes: 256 * 1024, maxMessageBytes: 1024, receiverTimeoutMs: 120_000 };
  // a logs; b collects; c is another service on the group (it hears a's records, acknowledges them, and stalls).
  const a = await memory(net, 'a', { ...member('a', { role: 'service' }), ...opts, paceTo: (m) => m.metadata.role === 'collector' });
  const b = await memory(net, 'b', { ...member('b', { role: 'collector' }), ...opts });
  const c = await memory(net, 'c', { ...member('c', { role: 'service' }), ...opts });
  t.true(await drive(net, () => a.group!.members().length === 3, 2000));
  const receivers: string[] = [];
  a.on('receiver', (r) => receivers.push(r.id === b.info.sessionId ? 'b' : r.id === c.info.sessionId ? 'c' : r.id));
  let readB = 0;
  b.readable.on('data', () => readB++);
  c.readable.on('data', () => undefined);
  const f = flood(net, a);
  await drive(net, () => false, 1000);
  t.true(readB > 500, `b read ${readB} messages`);
  t.is(a.stats().protocol.receivers, 1, 'only the collector counts');

  // c stalls for good (SIGSTOP, kill -9): a must not notice.
  net.partition(['c'], ['a', 'b']);
  const stalledAtMs = net.nowMs();
  const before = f.written;
  await drive(net, () => false, 2000);
  f.stop();
  let longestPause = 0;
  let lastMs = stalledAtMs;
  for (const x of f.times) {
    if (x < stalledAtMs) continue;
    longestPause = Math.max(longestPause, x - lastMs);
    lastMs = x;
  }
  t.log(`after c stalled: a wrote ${f.written - before} more messages in 2 s; longest pause between accepted writes ${longestPause} ms`);
  t.true(f.written - before > 1000, `a wrote only ${f.written - before} messages after c stalled`);
  t.true(longestPause < 200, `a paused ${longestPause} ms: c held it back`);
  t.false(receivers.includes('c'), "c never became a's receiver");

  const closeStartMs = net.nowMs();
  const outcome = await settle(net, a.close());
  t.log(`a closed in ${net.nowMs() - closeStartMs} ms: flushed ${outcome.flushedCount}, given up ${outcome.givenUpCount}`);
  t.deepEqual(outcome.flushed.map((r) => r.id), [b.info.sessionId]);
  t.is(outcome.givenUpCount, 0, 'c is not given up: it was never waited for');
  t.true(net.nowMs() - closeStartMs < 4000, 'the close did not wait for c');
  await settle(net, b.close());
  await settle(net, c.close());
});

test('paceTo is checked at open: a function, and only with member', async (t) => {
  const net = new MemoryNetwork({ seed: 9 });
  await t.throwsAsync(memory(net, 'x', { paceTo: () => true }), { instanceOf: InvalidArgumentValueError, message: /paceTo needs options.member/ });
  await t.throwsAsync(memory(net, 'y', { ...member('y'), paceTo: 'collector' as never }), { instanceOf: InvalidArgumentTypeError, message: /paceTo/ });
});
