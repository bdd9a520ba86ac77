/**
 * Hostile input against the sans-IO protocol core (docs/protocol.md,
 * "Limits"): a stranger on the group floods datagrams from 100,000 fake
 * sessions, NAKs everything, or sends garbage, while a real sender streams to
 * real receivers on the simulated network. Memory stays bounded, every real
 * message is delivered exactly once and in order, the repair budget holds, and
 * every drop is counted under its reason.
 */

import test from 'ava';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { InvalidArgumentValueError } from '../src/util/errors';
import { createEndpoint, DEFAULT_TUNING } from '../src/protocol/endpoint';
import { INVALID_REASONS, type LimitWarningEvent, type ProtocolEvent } from '../src/protocol/api';
import { DataFlag, encodeHeartbeat, encodeNak, HeartbeatFlag } from '../src/protocol/payload';
import { decodeHeader } from '../src/wire/decode';
import { encodeDatagram, DatagramType } from '../src/wire/header';
import { MAX_REMEMBERED_SESSIONS, DEFAULT_MAX_REORDER_BYTES, DEFAULT_WINDOW_BYTES, DEFAULT_WINDOW_MESSAGES, LIMIT_WARNING_INTERVAL_MS, REPAIR_SHARE_PER_RECEIVER } from '../src/protocol/constants';
import { account, message, seededRandom, Sim, sourceIdOf, testConfig, type SimNode } from './helpers/sim';

const ATTACKER = { address: '198.18.0.66', port: 6666 };

/** Hands `dg` to `node` as if it came from the attacker's host, then lets the node transmit (`pump` false: the caller pumps once per batch, as the driver does). */
function inject(sim: Sim, node: SimNode, dg: Uint8Array, from = ATTACKER, pump = true): void {
  const d = decodeHeader(dg);
  if (!d.ok) throw new Error(`test built an undecodable datagram: ${d.reason}`);
  node.ep.handleDatagram(sim.nowMs, dg, d.header, from);
  if (pump) sim.pump(node);
}

function packed(...messages: Buffer[]): Buffer {
  return Buffer.concat(messages.flatMap((m) => [Buffer.from([m.length >>> 8, m.length & 0xff]), m]));
}

/** A DATA datagram from session (hi, lo) carrying one message of `size` bytes at `seq`. */
function fakeData(hi: number, lo: number, seq: number, size = 100, streamId = 0): Buffer {
  return encodeDatagram({ type: DatagramType.DATA, flags: 0, keyId: 0, streamId, sessionHi: hi, sessionLo: lo, sequence: seq }, packed(Buffer.alloc(size, 0xee)));
}

/** Schedules `count` messages of `size` bytes from `sender`, `perMs` per ms from `startMs`; returns the last write time. */
function stream(sim: Sim, sender: SimNode, count: number, perMs: number, startMs: number, size = 64): number {
  let last = startMs;
  for (let i = 0, ms = 0; i < count; i += perMs, ms++) {
    const first = i;
    const end = Math.min(count, i + perMs);
    last = startMs + ms;
    sim.at(last, () => {
      const batch: Buffer[] = [];
      for (let k = first; k < end; k++) batch.push(message(k, size));
      sim.write(sender, 0, batch);
    });
  }
  return last;
}

/** Keeps a node's message and loss events of one source; counts the others by type (a flood must not fill the test's memory). */
function collect(node: SimNode, sourceId: () => string): { events: ProtocolEvent[]; others: Map<string, number>; warnings: LimitWarningEvent[] } {
  const events: ProtocolEvent[] = [];
  const others = new Map<string, number>();
  const warnings: LimitWarningEvent[] = [];
  node.onEvent = (e) => {
    if ((e.type === 'message' || e.type === 'loss') && e.source.id === sourceId()) events.push(e);
    else if (e.type === 'warning') warnings.push(e);
    else others.set(e.type, (others.get(e.type) ?? 0) + 1);
  };
  return { events, others, warnings };
}

function heapAfterGc(): number {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

test('a flood from 100,000 fake sources keeps tracked sources and buffered bytes bounded while the real stream is delivered exactly once and in order', (t) => {
  const sim = new Sim({ seed: 61, link: { loss: 0.01 } });
  const sender = sim.add('sender');
  const r = sim.add('r');
  const got = collect(r, () => sourceIdOf(sender));
  const COUNT = 5000;
  const FAKES = 100_000;
  const FLOOD_MS = 500;
  stream(sim, sender, COUNT, 10, 1);
  const rnd = seededRandom(7);
  let maxSources = 0;
  let maxReorderBytes = 0;
  let heapBefore = 0;
  sim.at(0.5, () => (heapBefore = heapAfterGc()));
  const perMs = FAKES / FLOOD_MS;
  for (let ms = 0; ms < FLOOD_MS; ms++) {
    sim.at(1.5 + ms, () => {
      for (let k = 0; k < perMs; k++) {
        const n = ms * perMs + k;
        inject(sim, r, fakeData(0x0f000000 + (n >>> 16), n & 0xffff, Math.floor(rnd() * 1e6), 200 + (n % 1000)), { address: ATTACKER.address, port: 1024 + (n % 60000) }, false);
      }
      sim.pump(r);
      const s = r.ep.stats();
      maxSources = Math.max(maxSources, s.sources);
      maxReorderBytes = Math.max(maxReorderBytes, s.reorderBytes);
    });
  }
  let heapAfterFlood = 0;
  sim.at(FLOOD_MS + 2, () => (heapAfterFlood = heapAfterGc()));
  t.true(sim.runWhile(() => got.events.filter((e) => e.type === 'message').length < COUNT, 20_000));
  const acc = account(got.events, sourceIdOf(sender));
  t.deepEqual(acc.errors, []);
  t.deepEqual(acc.losses, []);
  t.deepEqual(acc.indexes, Array.from({ length: COUNT }, (_, i) => i));
  const s = r.ep.stats();
  const growthMB = (heapAfterFlood - heapBefore) / 1e6;
  t.log(`tracked sources ≤ ${maxSources}, reorder bytes ≤ ${maxReorderBytes}; forgotten ${s.limited['sources-evicted']}; heap growth during the flood ${growthMB.toFixed(1)} MB`);
  t.log(`receiver events other than the real stream: ${JSON.stringify(Object.fromEntries(got.others))}; warnings ${got.warnings.length}`);
  // Sessions that never delivered anything raise no event: the application hears of the real sender only.
  t.deepEqual(Object.fromEntries(got.others), { source: 1 });
  t.true(maxSources <= DEFAULT_TUNING.maxSources);
  // Every fake source buffers one datagram (≤ 1.2 kB + overhead) until it is forgotten.
  t.true(maxReorderBytes <= DEFAULT_TUNING.maxSources * 1300, `reorder bytes ${maxReorderBytes}`);
  t.true(s.limited['sources-evicted'] >= FAKES - DEFAULT_TUNING.maxSources);
  t.true(growthMB < 64, `heap grew ${growthMB.toFixed(1)} MB`);
  // The fake sources never sent a heartbeat: once they time out nothing of theirs is delivered, and the table empties.
  sim.run(DEFAULT_TUNING.sourceTimeoutMs + 100);
  t.is(r.ep.stats().messagesDelivered, COUNT);
  t.true(r.ep.stats().sources <= 1);
});

test('a source that delivered data keeps its place when fake sources fill the table; new sources wait for a free place', (t) => {
  const sim = new Sim({ seed: 62 });
  const sender = sim.add('sender');
  const r = sim.add('r', {}, {}, { maxSources: 8 });
  const got = collect(r, () => sourceIdOf(sender));
  stream(sim, sender, 2000, 4, 1);
  // Fake sources that complete a join (heartbeat + data) and deliver: they cannot be told from real ones.
  // (Each from its own port: a new session from the port of another is that sender restarting.)
  sim.at(5, () => {
    for (let n = 0; n < 7; n++) {
      const from = { address: ATTACKER.address, port: 7000 + n };
      inject(sim, r, encodeHeartbeat({ sessionHi: 0x0e, sessionLo: n }, 0, [{ streamId: 0, trailSeq: 0, nextSeq: 0, ageMs: 0 }]), from);
      inject(sim, r, fakeData(0x0e, n, 0), from);
    }
  });
  // Then 10,000 one-datagram sources: the table is full of established sources, so they are ignored.
  for (let ms = 0; ms < 100; ms++) sim.at(10 + ms, () => {
    for (let k = 0; k < 100; k++) inject(sim, r, fakeData(0x0f, ms * 100 + k, 5));
  });
  t.true(sim.runWhile(() => got.events.length < 2000, 5000));
  const acc = account(got.events, sourceIdOf(sender));
  t.deepEqual(acc.errors, []);
  t.is(acc.indexes.length, 2000);
  const s = r.ep.stats();
  t.log(`limited: ${JSON.stringify(s.limited)}`);
  t.is(s.sources, 8);
  t.is(s.limited.sources, 10_000);
  t.is(got.others.get('source-gone') ?? 0, 0);
});

test('one forged datagram from a real sender\'s address does not end that sender as restarted', (t) => {
  const sim = new Sim({ seed: 63 });
  const sender = sim.add('sender');
  const r = sim.add('r');
  const got = collect(r, () => sourceIdOf(sender));
  stream(sim, sender, 1000, 5, 1);
  sim.at(50, () => inject(sim, r, fakeData(0x0d, 1, 0), { address: sender.address, port: sender.port }));
  t.true(sim.runWhile(() => got.events.length < 1000, 5000));
  t.deepEqual(account(got.events, sourceIdOf(sender)).indexes, Array.from({ length: 1000 }, (_, i) => i));
  t.is(got.others.get('source-gone') ?? 0, 0);
});

test('buffered bytes over all sources stay under maxTotalReorderBytes; sources that delivered nothing pay first', (t) => {
  const sim = new Sim({ seed: 64, link: { loss: 0.02 } });
  const sender = sim.add('sender');
  const CAP = 256 * 1024;
  const r = sim.add('r', {}, {}, { maxTotalReorderBytes: CAP });
  const got = collect(r, () => sourceIdOf(sender));
  stream(sim, sender, 3000, 5, 1, 200);
  let max = 0;
  // 200 fake sources each buffering out-of-order data without ever sending a heartbeat.
  for (let ms = 0; ms < 200; ms++) sim.at(2 + ms, () => {
    for (let k = 0; k < 20; k++) inject(sim, r, fakeData(0x0c, ms, 1 + k * 2, 1200));
    max = Math.max(max, r.ep.stats().reorderBytes);
  });
  t.true(sim.runWhile(() => got.events.filter((e) => e.type === 'message').length < 3000, 10_000));
  const acc = account(got.events, sourceIdOf(sender));
  t.deepEqual(acc.errors, []);
  t.deepEqual(acc.losses, []);
  const s = r.ep.stats();
  t.log(`reorder bytes ≤ ${max} (cap ${CAP}); limited ${JSON.stringify(s.limited)}`);
  t.true(max <= CAP + 1500);
  t.true(s.limited['sources-evicted'] > 0);
});

test('a forged heartbeat naming thousands of streams creates at most maxStreamsPerSource of them', (t) => {
  const sim = new Sim({ seed: 65 });
  const r = sim.add('r', {}, {}, { maxStreamsPerSource: 16 });
  const entries = Array.from({ length: 60 }, (_, i) => ({ streamId: i, trailSeq: 0, nextSeq: 10, ageMs: 0 }));
  for (let k = 0; k < 10; k++) inject(sim, r, encodeHeartbeat({ sessionHi: 0x0b, sessionLo: 1 }, 0, entries.map((e) => ({ ...e, streamId: e.streamId + k * 60 }))));
  t.is(r.ep.stats().limited.streams, 600 - 16);
});

test('sessions that close at once are remembered up to MAX_REMEMBERED_SESSIONS, not one per fake session', (t) => {
  const sim = new Sim({ seed: 66 });
  const r = sim.add('r');
  const fakes = MAX_REMEMBERED_SESSIONS + 3000;
  for (let k = 0; k < fakes; k++) {
    const origin = { sessionHi: 0x0c1d0000, sessionLo: k + 1 };
    // One message, then the closing heartbeat: a source that delivers and ends at once.
    inject(sim, r, fakeData(origin.sessionHi, origin.sessionLo, 0), ATTACKER, false);
    inject(sim, r, encodeHeartbeat(origin, HeartbeatFlag.CLOSED, [{ streamId: 0, trailSeq: 0, nextSeq: 1, ageMs: 0 }]), ATTACKER, false);
    if (k % 256 === 255) sim.run(1);
  }
  sim.run(100);
  const ended = (r.ep as unknown as { receiver: { ended: Map<string, unknown> } }).receiver.ended;
  t.true(ended.size > 0, 'closed sessions are remembered');
  t.true(ended.size <= MAX_REMEMBERED_SESSIONS, `${ended.size} remembered`);
});

test('a NAK flood asking for everything from one fake session starves neither new data nor real repairs', (t) => {
  const sim = new Sim({ seed: 66, link: { loss: 0.01 } });
  const startedMs = performance.now();
  const sender = sim.add('sender');
  const rs = [sim.add('a'), sim.add('b'), sim.add('c')];
  const gots = rs.map((r) => collect(r, () => sourceIdOf(sender)));
  const COUNT = 20_000;
  const lastWriteMs = stream(sim, sender, COUNT, 20, 1, 1024); // 20 KiB per ms = 20 MB/s for one second
  const repairs: { atMs: number; bytes: number }[] = [];
  sim.filter = (from, to, h, dg) => {
    if (from === sender && to === undefined && h.type === DatagramType.DATA && (h.flags & DataFlag.REPAIR) !== 0) repairs.push({ atMs: sim.nowMs, bytes: dg.length });
    return true;
  };
  const fake = { sessionHi: 0x0a, sessionLo: 0xbad };
  const everything = encodeNak(fake, 0, sender.config.sessionHi, sender.config.sessionLo, [{ from: 0, to: 2 ** 53 - 1 }]);
  const FLOOD_MS = 1000;
  for (let ms = 0; ms < FLOOD_MS; ms++) sim.at(2 + ms, () => {
    const t0 = performance.now();
    for (let k = 0; k < 40; k++) inject(sim, sender, everything, ATTACKER, false); // 40,000 NAKs/s
    nakCpuMs += performance.now() - t0;
    sim.pump(sender);
  });
  let nakCpuMs = 0;
  t.true(sim.runWhile(() => gots.some((g) => g.events.length < COUNT), 20_000));
  const doneMs = sim.nowMs;
  for (const g of gots) {
    const acc = account(g.events, sourceIdOf(sender));
    t.deepEqual(acc.errors, []);
    t.deepEqual(acc.losses, []);
    t.is(acc.indexes.length, COUNT);
  }
  const s = sender.ep.stats();
  const rate = DEFAULT_TUNING.repairRateBytesPerSec!;
  const repairBytes = repairs.filter((x) => x.atMs <= 2 + FLOOD_MS).reduce((a, x) => a + x.bytes, 0);
  const budget = (rate * FLOOD_MS) / 1000;
  t.log(`all ${COUNT} messages at 3 receivers by ${doneMs.toFixed(0)} ms (last write at ${lastWriteMs} ms); NAKs received ${s.naksReceived}, limited ${JSON.stringify(s.limited)}`);
  t.log(`repair bytes during the flood ${repairBytes} = ${((100 * repairBytes) / budget).toFixed(1)}% of the ${rate / 1e6} MB/s budget; the fake session's share is ${REPAIR_SHARE_PER_RECEIVER * 100}%`);
  t.log(`${(performance.now() - startedMs).toFixed(0)} ms of real time in all; the sender spent ${nakCpuMs.toFixed(0)} ms on the ${FLOOD_MS * 40} fake NAKs (${((1000 * nakCpuMs) / (FLOOD_MS * 40)).toFixed(1)} µs each)`);
  t.true(s.limited['nak-rate'] > 0);
  t.true(repairBytes <= budget * 1.01 + rate * 0.005);
  // New data was not held back: the receivers finished soon after the last write (repairs of the last losses included).
  t.true(doneMs < lastWriteMs + 500, `done at ${doneMs} ms`);
});

test('the repair byte budget holds against NAKs from many fake sessions, and real receivers still get everything', (t) => {
  const RATE = 2_000_000;
  const sim = new Sim({ seed: 67, link: { loss: 0.01 }, tuning: { repairRateBytesPerSec: RATE } });
  const sender = sim.add('sender');
  const rs = [sim.add('a'), sim.add('b')];
  const gots = rs.map((r) => collect(r, () => sourceIdOf(sender)));
  const COUNT = 4000;
  stream(sim, sender, COUNT, 4, 1, 256);
  const repairs: { atMs: number; bytes: number }[] = [];
  sim.filter = (from, to, h, dg) => {
    if (from === sender && to === undefined && h.type === DatagramType.DATA && (h.flags & DataFlag.REPAIR) !== 0) repairs.push({ atMs: sim.nowMs, bytes: dg.length });
    return true;
  };
  let session = 0;
  for (let ms = 0; ms < 1000; ms++) sim.at(2 + ms, () => {
    for (let k = 0; k < 10; k++) {
      session++;
      inject(sim, sender, encodeNak({ sessionHi: 0x09, sessionLo: session }, 0, sender.config.sessionHi, sender.config.sessionLo, [{ from: 0, to: 2 ** 53 - 1 }]));
    }
  });
  t.true(sim.runWhile(() => gots.some((g) => g.events.length < COUNT), 30_000));
  for (const g of gots) {
    const acc = account(g.events, sourceIdOf(sender));
    t.deepEqual(acc.errors, []);
    t.deepEqual(acc.losses, []);
  }
  // Worst 100 ms window of repair bytes against the budget (plus the bucket's depth).
  let worst = 0;
  for (let i = 0, j = 0, sum = 0; i < repairs.length; i++) {
    sum += repairs[i]!.bytes;
    while (repairs[i]!.atMs - repairs[j]!.atMs >= 100) sum -= repairs[j++]!.bytes;
    worst = Math.max(worst, sum);
  }
  const depth = Math.max(2 * 1472, RATE * 0.005);
  t.log(`worst 100 ms: ${worst} repair bytes (budget ${RATE / 10} + depth ${depth}); limited ${JSON.stringify(sender.ep.stats().limited)}`);
  t.true(worst <= RATE / 10 + depth + 1472);
  t.true(worst >= RATE / 20, 'the flood should have used the budget');
});

test('honest repair at 5% loss of 1 KiB messages at full speed hits no limit', (t) => {
  const sim = new Sim({ seed: 68, link: { loss: 0.05, delayMs: 0.05 } });
  const sender = sim.add('sender', { windowBytes: DEFAULT_WINDOW_BYTES, windowMessages: DEFAULT_WINDOW_MESSAGES });
  const rs = ['a', 'b', 'c'].map((name) => sim.add(name, { maxReorderBytes: DEFAULT_MAX_REORDER_BYTES }));
  const gots = rs.map((r) => collect(r, () => sourceIdOf(sender)));
  const COUNT = 50_000;
  // 100 KiB per 0.5 ms ≈ 200 MB/s, about what one core sends on loopback.
  for (let i = 0, turn = 0; i < COUNT; i += 100, turn++) {
    const first = i;
    sim.at(1 + turn * 0.5, () => sim.write(sender, 0, Array.from({ length: 100 }, (_, k) => message(first + k, 1024))));
  }
  const naksPerSecond = new Map<number, number>();
  const inner = sim.filter;
  sim.filter = (from, to, h, dg) => {
    if (to === undefined && h.type === DatagramType.NAK && rs.includes(from)) {
      const key = Math.floor(sim.nowMs / 100) * 1000 + rs.indexOf(from);
      naksPerSecond.set(key, (naksPerSecond.get(key) ?? 0) + 10);
    }
    return inner ? inner(from, to, h, dg) : true;
  };
  t.true(sim.runWhile(() => gots.some((g) => g.events.length < COUNT), 30_000));
  const rLimited = rs.flatMap((r) => Object.entries(r.ep.stats().limited).filter(([, n]) => n > 0));
  t.deepEqual(rLimited, []);
  for (const g of gots) {
    const acc = account(g.events, sourceIdOf(sender));
    t.deepEqual(acc.errors, []);
    t.deepEqual(acc.losses, []);
  }
  const peak = Math.max(...naksPerSecond.values());
  const limited = Object.entries(sender.ep.stats().limited).filter(([, n]) => n > 0);
  t.log(`peak NAK rate of one receiver (per 100 ms, ×10): ${peak}/s (limit ${DEFAULT_TUNING.maxNaksPerSecPerReceiver}/s); repairs ${sender.ep.stats().repairsSent}; limits hit at the sender ${JSON.stringify(limited)}`);
  t.true(peak < DEFAULT_TUNING.maxNaksPerSecPerReceiver);
  t.deepEqual(limited, []);
});

test('a warning is raised at most once per second per reason, and carries the hits it did not report', (t) => {
  const sim = new Sim({ seed: 69 });
  const r = sim.add('r', {}, {}, { maxStreamsPerSource: 1 });
  const warnings: { atMs: number; w: LimitWarningEvent }[] = [];
  r.onEvent = (e) => void (e.type === 'warning' && warnings.push({ atMs: sim.nowMs, w: e }));
  let hits = 0;
  // Two hits every 10 ms for 3.5 s: a new stream each time (streams), and a status naming 50 new peers... of an unknown source (no hit).
  for (let ms = 0; ms < 3500; ms += 10) sim.at(ms + 1, () => {
    for (let k = 0; k < 2; k++) {
      hits++;
      inject(sim, r, encodeHeartbeat({ sessionHi: 0x08, sessionLo: 1 }, 0, [{ streamId: 1 + hits, trailSeq: 0, nextSeq: 0, ageMs: 0 }]));
    }
  });
  sim.run(3600);
  const total = r.ep.stats().limited.streams;
  t.log(warnings.map((x) => `${x.atMs.toFixed(0)} ms: ${x.w.reason} count ${x.w.count} suppressed ${x.w.suppressed}`).join('\n'));
  // The first heartbeat's first entry created stream 2; every later entry is over the cap.
  t.is(total, hits - 1);
  t.true(warnings.length >= 3 && warnings.length <= 4);
  for (let i = 1; i < warnings.length; i++) t.true(warnings[i]!.atMs - warnings[i - 1]!.atMs >= LIMIT_WARNING_INTERVAL_MS);
  for (const { w } of warnings) t.is(w.reason, 'streams');
  // Each warning accounts for itself and the hits it suppressed since the previous one.
  const last = warnings.at(-1)!.w;
  t.is(warnings.reduce((a, x) => a + 1 + x.w.suppressed, 0), last.count);
});

test('every malformed payload is dropped and counted under its reason', (t) => {
  const sim = new Sim({ seed: 70 });
  const sender = sim.add('sender');
  const r = sim.add('r');
  sim.write(sender, 0, [message(0)]);
  sim.run(5);
  const src = { sessionHi: sender.config.sessionHi, sessionLo: sender.config.sessionLo };
  const fields = (type: number, flags = 0, sequence = 1) => ({ type, flags, keyId: 0, streamId: 0, sessionHi: src.sessionHi, sessionLo: src.sessionLo, sequence });
  const bad: Record<string, Buffer> = {
    'datagram-length': Buffer.concat([fakeData(src.sessionHi, src.sessionLo, 1), Buffer.alloc(3)]),
    'data-packed': encodeDatagram(fields(DatagramType.DATA), Buffer.from([0, 9, 1, 2])),
    'data-fragment': encodeDatagram(fields(DatagramType.DATA, DataFlag.FRAGMENT), Buffer.from([0, 0, 0, 4, 0, 0, 0, 2, 1, 2, 3])),
    'data-sequence': encodeDatagram(fields(DatagramType.DATA, 0, 2 ** 53 - 1), packed(Buffer.alloc(1), Buffer.alloc(1))),
    heartbeat: encodeDatagram(fields(DatagramType.HEARTBEAT, 0, 0), Buffer.from([0, 2, 0])),
    nak: encodeDatagram(fields(DatagramType.NAK), Buffer.alloc(10)),
    ncf: encodeDatagram(fields(DatagramType.NCF), Buffer.from([7, 0, 0, 1])),
    status: encodeDatagram(fields(DatagramType.STATUS, 0, 0), Buffer.alloc(9)),
  };
  // A fragment that does not continue the message being reassembled: the first fragment of a 5000-byte message, then one of a 6000-byte one.
  const frag = (seq: number, total: number, offset: number) => {
    const p = Buffer.alloc(8 + 1000);
    p.writeUInt32BE(total, 0);
    p.writeUInt32BE(offset, 4);
    return encodeDatagram(fields(DatagramType.DATA, DataFlag.FRAGMENT, seq), p);
  };
  for (const [reason, dg] of Object.entries(bad)) {
    const before = r.ep.stats().invalidByReason;
    // The length check needs the header's view of the payload; hand the oversized datagram over as received.
    const d = decodeHeader(reason === 'datagram-length' ? dg.subarray(0, dg.length - 3) : dg);
    if (!d.ok) throw new Error(`${reason}: ${d.reason}`);
    r.ep.handleDatagram(sim.nowMs, dg, d.header, ATTACKER);
    t.is(r.ep.stats().invalidByReason[reason as keyof typeof before] - before[reason as keyof typeof before], 1, reason);
  }
  inject(sim, r, frag(1, 5000, 0));
  inject(sim, r, frag(2, 6000, 1000));
  const s = r.ep.stats();
  t.is(s.invalidByReason['fragment-mismatch'], 1);
  for (const reason of INVALID_REASONS) t.true(s.invalidByReason[reason] >= 1, reason);
  t.is(s.invalid, Object.values(s.invalidByReason).reduce((a, n) => a + n, 0));
  // Nothing malformed reached the application.
  t.deepEqual(r.events.filter((e) => e.type === 'message').map((e) => e.type === 'message' && e.seq), [0]);
});

test('limits are configurable, and a bad limit is a typed error that creates nothing', (t) => {
  const config = testConfig(seededRandom(1));
  for (const [field, value] of [['maxSources', 0], ['maxStreamsPerSource', 1.5], ['maxReceivers', -1], ['maxTotalReorderBytes', Number.NaN], ['maxTotalReassemblyBytes', 2 ** 60], ['maxNaksPerSecPerReceiver', 0], ['maxNaksPerSecPerReceiver', Infinity]] as const) {
    const err = t.throws(() => createEndpoint(config, { [field]: value }), { instanceOf: InvalidArgumentValueError });
    t.is((err as InvalidArgumentValueError).code, 'BLIPCAST_ERR_INVALID_ARG_VALUE');
    t.regex(err!.message, new RegExp(field));
  }
  const sim = new Sim({ seed: 71 });
  const r = sim.add('r', {}, {}, { maxSources: 3 });
  for (let n = 0; n < 10; n++) inject(sim, r, fakeData(0x07, n, 0));
  t.is(r.ep.stats().sources, 3);
  t.is(r.ep.stats().limited['sources-evicted'], 7);
});
