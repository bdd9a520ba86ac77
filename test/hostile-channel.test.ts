/**
 * Hostile input through the public API on the simulated network: a stranger
 * host floods the group with random bytes, valid-looking and deliberately
 * broken headers, data from 100,000 fake sessions and NAKs asking for
 * everything (the datagram builders of the lab attacker, test/fixtures/attacker.ts),
 * while a real sender streams to three receivers at 1 % loss. Every receiver
 * gets every real message exactly once and in order, the counters show each
 * drop by reason, and the 'warning' events are rate-limited.
 */

import test from 'ava';
import type { Channel, LimitWarning, LossInfo, Message } from '../src/api/channel';
import { InvalidArgumentTypeError, InvalidArgumentValueError } from '../src/util/errors';
import { MemoryNetwork } from '../src/transport/memory';
import { DEFAULT_TUNING } from '../src/protocol/tuning';
import { LIMIT_WARNING_INTERVAL_MS } from '../src/protocol/constants';
import { DatagramForge, type AttackMode } from './fixtures/attacker';
import { drive, GROUP, memory, readN, settle } from './helpers/channel-memory';

const [GROUP_ADDRESS, GROUP_PORT] = GROUP.split(':') as [string, string];

function payload(i: number): Buffer {
  return Buffer.from(`m${i}:${'abcdefghij'.repeat(i % 9)}`);
}

/** Opens the attacker's socket on its own host: it hears the group (to learn sessions) and sends into it. */
function attacker(net: MemoryNetwork, seed: number): { send: (mode: AttackMode, n: number) => number; forge: DatagramForge } {
  net.host('attacker');
  const transport = net.createTransport('attacker', { group: GROUP_ADDRESS, port: Number(GROUP_PORT), loopback: false });
  const forge = new DatagramForge(seed);
  transport.receive((batch) => {
    for (let i = 0; i < batch.count; i++) forge.observe(batch.datagram(i));
  });
  return {
    forge,
    send: (mode, n) => {
      const out: Buffer[] = [];
      for (let k = 0; k < n; k++) {
        const dg = forge.next(mode);
        if (dg) out.push(dg);
      }
      if (out.length > 0) transport.send(out);
      return out.length;
    },
  };
}

// 20,000 fake sources here (100,000 in test/hostile-core.test.ts): on the memory network every datagram is
// one driver turn, and four channels hear each of them.
test('a stranger flooding random bytes, broken headers, 20,000 fake sources and NAKs for everything does not disturb a real stream; every drop is counted by reason', async (t) => {
  t.timeout(180_000);
  const net = new MemoryNetwork({ seed: 'hostile-channel', link: { lossRate: 0.01, delayMs: 0.2, jitterMs: 0.1 } });
  const rx: Channel[] = [];
  for (let i = 0; i < 3; i++) rx.push(await memory(net, `r${i}`, { lateJoin: 'earliest' }));
  const tx = await memory(net, 'sender');
  const bad = attacker(net, 6);
  const losses: LossInfo[] = [];
  const sources = new Set<string>();
  const warnings: { atMs: number; channel: number; w: LimitWarning }[] = [];
  for (const [i, c] of [...rx, tx].entries()) {
    c.on('loss', (l) => losses.push(l));
    c.on('source', (s) => sources.add(s.id));
    c.on('warning', (w) => warnings.push({ atMs: net.nowMs(), channel: i, w }));
  }
  const COUNT = 3000;
  const got: Message[][] = rx.map(() => []);
  const readers = rx.map((r, i) => readN(r, COUNT, got[i]!));
  const sent: Record<AttackMode, number> = { random: 0, headers: 0, sources: 0, nak: 0, forge: 0, replay: 0 };
  // 2 s of virtual time: 40 fake sources, 40 random and 10 broken datagrams and 10 NAKs every 4 ms, with the writes in between.
  const FLOOD_STEPS = 500;
  let step = 0;
  const writer = (async () => {
    for (let i = 0; i < COUNT; i++) {
      if (!tx.write(payload(i))) await new Promise<void>((resolve) => tx.once('drain', resolve));
      if (i % 10 === 9) await new Promise<void>((resolve) => setImmediate(resolve));
    }
  })();
  const done = await drive(net, () => {
    if (step < FLOOD_STEPS) {
      step++;
      sent.sources += bad.send('sources', 40);
      sent.random += bad.send('random', 40);
      sent.headers += bad.send('headers', 10);
      sent.nak += bad.send('nak', 10);
    }
    return step >= FLOOD_STEPS && got.every((g) => g.length >= COUNT);
  }, 120_000, 4);
  await writer;
  await Promise.all(readers);
  t.true(done, `received ${got.map((g) => g.length).join(',')}`);
  t.log(`attacker sent ${JSON.stringify(sent)}; learnt ${bad.forge.observedSessions} real session/stream(s); virtual ${net.nowMs().toFixed(0)} ms`);

  t.deepEqual(losses, []);
  t.deepEqual([...sources], [tx.info.sessionId]);
  for (const g of got) {
    t.is(g.length, COUNT);
    const wrong = g.findIndex((m, i) => m.seq !== i || !m.data.equals(payload(i)) || m.source.id !== tx.info.sessionId);
    t.is(wrong, -1, `first wrong message at ${wrong}`);
  }
  t.is(sent.sources, 20_000);

  for (const [i, r] of rx.entries()) {
    const s = r.stats();
    const rejects = Object.entries(s.rejects).filter(([, n]) => n > 0);
    const invalid = Object.entries(s.protocol.invalidByReason).filter(([, n]) => n > 0);
    const limited = Object.entries(s.protocol.limited).filter(([, n]) => n > 0);
    t.log(`r${i}: header rejects ${JSON.stringify(Object.fromEntries(rejects))}; invalid payloads ${JSON.stringify(Object.fromEntries(invalid))}; limits ${JSON.stringify(Object.fromEntries(limited))}; sources now ${s.protocol.sources}`);
    // Random bytes fail the header check for every reason the decoder has; broken fields too.
    for (const reason of ['truncated', 'bad-magic', 'bad-version', 'bad-length', 'unknown-type', 'bad-sequence'] as const) t.true(s.rejects[reason] > 0, `r${i} ${reason}`);
    t.true(s.protocol.invalid > 0);
    t.true(s.protocol.limited['sources-evicted'] > 20_000 - DEFAULT_TUNING.maxSources - 10, `r${i} forgot ${s.protocol.limited['sources-evicted']}`);
    t.true(s.protocol.sources <= DEFAULT_TUNING.maxSources);
  }
  const ts = tx.stats().protocol;
  t.log(`sender: NAKs received ${ts.naksReceived}, repairs ${ts.repairsSent}, limits ${JSON.stringify(Object.fromEntries(Object.entries(ts.limited).filter(([, n]) => n > 0)))}`);
  t.true(ts.limited['repair-share'] > 0);

  // Warnings: at most one per second per (channel, reason), each carrying the count.
  const last = new Map<string, number>();
  for (const { atMs, channel, w } of warnings) {
    const key = `${channel}/${w.reason}`;
    const prev = last.get(key);
    if (prev !== undefined) t.true(atMs - prev >= LIMIT_WARNING_INTERVAL_MS, `${key} warned again after ${atMs - prev} ms`);
    last.set(key, atMs);
    t.true(w.count >= 1 + w.suppressed);
    t.true(w.message.length > 0);
  }
  t.true(warnings.some((x) => x.w.reason === 'sources-evicted'));
  t.log(`${warnings.length} warnings, e.g. ${JSON.stringify(warnings.find((x) => x.w.reason === 'sources-evicted')?.w)}`);
  await settle(net, Promise.all([tx.close(), ...rx.map((r) => r.close())]));
});

test('limits are options of open(), checked like every other option', async (t) => {
  const net = new MemoryNetwork({ seed: 'hostile-options' });
  for (const [option, value, type] of [
    ['maxSources', 0, InvalidArgumentValueError], ['maxSources', 2.5, InvalidArgumentValueError], ['maxStreamsPerSource', '8', InvalidArgumentTypeError],
    ['maxReceivers', -1, InvalidArgumentValueError], ['maxTotalReorderBytes', Infinity, InvalidArgumentValueError],
    ['maxTotalReassemblyBytes', null, InvalidArgumentTypeError], ['maxNaksPerSecPerReceiver', 0, InvalidArgumentValueError],
  ] as const) {
    const err = await t.throwsAsync(memory(net, `h-${option}-${String(value)}`, { [option]: value }), { instanceOf: type as typeof InvalidArgumentValueError });
    t.regex(err!.message, new RegExp(`options\\.${option}`));
  }
  // A limit that is set takes effect: two sources at most, fake ones forgotten to make room.
  const r = await memory(net, 'r', { maxSources: 2 });
  const bad = attacker(net, 7);
  bad.send('sources', 50);
  await drive(net, () => false, 20);
  const s = r.stats().protocol;
  t.is(s.sources, 2);
  t.is(s.limited['sources-evicted'], 48);
  await settle(net, r.close());
});
