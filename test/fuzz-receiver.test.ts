/**
 * Property tests (fast-check) for the receive state machine of
 * src/protocol/endpoint.ts fed random datagram sequences: valid headers over
 * random payloads, valid DATA with random sequence numbers, repairs, random
 * heartbeats, NCFs, NAKs and status reports, from a few sessions, with time
 * moving on and timers firing. It must never throw, never deliver a sequence
 * number twice or out of order, and never deliver bytes that were not sent
 * for that sequence number. BLIPCAST_FUZZ_RUNS multiplies the run counts.
 */

import test, { type ExecutionContext } from 'ava';
import fc from 'fast-check';
import { createEndpoint } from '../src/protocol/endpoint';
import { splitMessages } from './helpers/split-messages';
import type { Endpoint, ProtocolEvent } from '../src/protocol/api';
import { DataFlag, encodeHeartbeat, encodeNak, encodeNcf, encodeStatus, HeartbeatFlag, type SeqRange } from '../src/protocol/payload';
import { decodeHeader } from '../src/wire/decode';
import { encodeDatagram, DatagramType, type Header } from '../src/wire/header';
import { seededRandom, testConfig } from './helpers/sim';

const SCALE = Math.max(1, Number(process.env.BLIPCAST_FUZZ_RUNS ?? '1') || 1);
const RUNS = 150 * SCALE;

/** The sessions the random traffic comes from; the receiver itself is session (1, 1). */
const SOURCES = [{ sessionHi: 0xa, sessionLo: 0x1 }, { sessionHi: 0xb, sessionLo: 0x2 }, { sessionHi: 0xc, sessionLo: 0x3 }];
const SELF = { sessionHi: 1, sessionLo: 1 };
/** Streams 0 and 1 carry only well-formed packed messages (content checked); stream 2 also gets random fragments. */
const CLEAN_STREAMS = 2;
const MAX_SEQ = 120;

/** The one message a sender ever sends as (source, stream, seq): every copy, repair or not, carries these bytes. */
function content(source: number, streamId: number, seq: number): Buffer {
  const len = (seq * 7 + source * 3 + streamId) % 40;
  const b = Buffer.alloc(4 + len, (seq + source * 31 + streamId * 17) & 0xff);
  b.writeUInt32BE(seq * 1000 + source * 10 + streamId, 0);
  return b;
}

function packed(source: number, streamId: number, first: number, count: number): Buffer {
  const parts: Buffer[] = [];
  for (let s = first; s < first + count; s++) {
    const m = content(source, streamId, s);
    parts.push(Buffer.from([m.length >>> 8, m.length & 0xff]), m);
  }
  return Buffer.concat(parts);
}

function fragment(messageBytes: number, offset: number, data: Uint8Array): Buffer {
  const b = Buffer.alloc(8 + data.length);
  b.writeUInt32BE(messageBytes, 0);
  b.writeUInt32BE(offset, 4);
  b.set(data, 8);
  return b;
}

const seqArb = fc.integer({ min: 0, max: MAX_SEQ });
const rangeArb: fc.Arbitrary<SeqRange> = fc.tuple(seqArb, seqArb).map(([a, b]) => ({ from: Math.min(a, b), to: Math.max(a, b) }));
const sourceArb = fc.integer({ min: 0, max: SOURCES.length - 1 });
const streamArb = fc.integer({ min: 0, max: 2 });

/** One step: a datagram (built lazily from a description) after `advanceMs`. */
const stepArb = fc.record({
  advanceMs: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 3000 })),
  fromAddress: fc.boolean(),
  datagram: fc.oneof(
    { weight: 6, arbitrary: fc.record({ kind: fc.constant('data' as const), source: sourceArb, streamId: streamArb, first: seqArb, count: fc.integer({ min: 1, max: 5 }), repair: fc.boolean() }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('fragment' as const), source: sourceArb, seq: seqArb, messageBytes: fc.integer({ min: 1, max: 200 }), offset: fc.integer({ min: 0, max: 200 }), data: fc.uint8Array({ minLength: 1, maxLength: 100 }) }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('heartbeat' as const), source: sourceArb, flags: fc.integer({ min: 0, max: 7 }), entries: fc.array(fc.record({ streamId: streamArb, r: rangeArb, ageMs: fc.integer({ min: 0, max: 10_000 }) }), { maxLength: 3 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('ncf' as const), source: sourceArb, streamId: streamArb, reason: fc.integer({ min: 0, max: 2 }), ranges: fc.array(rangeArb, { minLength: 1, maxLength: 3 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('nak' as const), source: sourceArb, streamId: streamArb, toSelf: fc.boolean(), ranges: fc.array(rangeArb, { minLength: 1, maxLength: 3 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('status' as const), source: sourceArb, toSelf: fc.boolean(), flags: fc.integer({ min: 0, max: 1 }), entries: fc.array(fc.record({ streamId: streamArb, nextSeq: seqArb, freeBytes: fc.nat() }), { maxLength: 3 }) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('garbage' as const), source: sourceArb, type: fc.integer({ min: 1, max: 6 }), flags: fc.integer({ min: 0, max: 0xff }), streamId: streamArb, sequence: seqArb, payload: fc.uint8Array({ maxLength: 80 }) }) },
  ),
});
type Step = typeof stepArb extends fc.Arbitrary<infer T> ? T : never;

function build(d: Step['datagram']): Buffer {
  const o = SOURCES[d.source]!;
  const fields = (type: number, flags: number, streamId: number, sequence: number): Omit<Header, 'payloadLength'> =>
    ({ type, flags, keyId: 0, streamId, sessionHi: o.sessionHi, sessionLo: o.sessionLo, sequence });
  switch (d.kind) {
    case 'data': {
      // Stream 2 may get fragments too; the clean streams only these.
      return encodeDatagram(fields(DatagramType.DATA, d.repair ? DataFlag.REPAIR : 0, d.streamId, d.first), packed(d.source, d.streamId, d.first, d.count));
    }
    case 'fragment':
      return encodeDatagram(fields(DatagramType.DATA, DataFlag.FRAGMENT, CLEAN_STREAMS, d.seq), fragment(d.messageBytes, d.offset, d.data));
    case 'heartbeat':
      return encodeHeartbeat(o, d.flags & (HeartbeatFlag.CLOSED | HeartbeatFlag.STATUS_REQUEST | HeartbeatFlag.FLOW_CONTROLLED),
        d.entries.map((e) => ({ streamId: e.streamId, trailSeq: e.r.from, nextSeq: e.r.to, ageMs: e.ageMs })));
    case 'ncf':
      return encodeNcf(o, d.streamId, d.reason, d.ranges);
    case 'nak':
      return encodeNak(o, d.streamId, d.toSelf ? SELF.sessionHi : 0x77, d.toSelf ? SELF.sessionLo : 0x77, d.ranges);
    case 'status':
      return encodeStatus(o, d.toSelf ? SELF.sessionHi : 0x77, d.toSelf ? SELF.sessionLo : 0x77, d.entries, d.flags);
    case 'garbage':
      return encodeDatagram(fields(d.type, d.flags, d.streamId, d.sequence), d.payload);
  }
}

/** Per (source, stream): where delivery stands, and whether every event so far kept to sequence order. */
interface StreamLog {
  key: string;
  /** Highest sequence number a message or loss event has covered (messages: their first sequence number). */
  lastSeq: number;
  delivered: number[];
  errors: string[];
}

function record(logs: Map<string, StreamLog>, ev: ProtocolEvent, finished: StreamLog[]): void {
  if (ev.type === 'source-gone') {
    // The receiver forgets a source that is gone; if the same session id is heard again it is a new
    // source from scratch (see the failing test at the end), so its order starts over.
    for (const [key, log] of logs) {
      if (key.startsWith(`${ev.source.id}/`)) {
        finished.push(log);
        logs.delete(key);
      }
    }
    return;
  }
  if (ev.type !== 'message' && ev.type !== 'loss') return;
  const key = `${ev.source.id}/${ev.streamId}`;
  let log = logs.get(key);
  if (!log) logs.set(key, (log = { key, lastSeq: -1, delivered: [], errors: [] }));
  if (ev.type === 'message') {
    if (ev.seq <= log.lastSeq) log.errors.push(`message ${ev.seq} after ${log.lastSeq}`);
    log.lastSeq = ev.seq;
    log.delivered.push(ev.seq);
    if (ev.streamId < CLEAN_STREAMS) {
      const source = SOURCES.findIndex((s) => ev.source.id === s.sessionHi.toString(16).padStart(8, '0') + s.sessionLo.toString(16).padStart(8, '0'));
      if (!ev.data.equals(content(source, ev.streamId, ev.seq))) log.errors.push(`message ${ev.seq} carries bytes that were not sent for it`);
    }
  } else {
    if (ev.fromSeq <= log.lastSeq || ev.toSeq < ev.fromSeq) log.errors.push(`loss ${ev.fromSeq}..${ev.toSeq} after ${log.lastSeq}`);
    log.lastSeq = Math.max(log.lastSeq, ev.toSeq);
  }
}

/** Small caps by default, so that random traffic also runs into the memory limits. */
function newReceiver(lateJoin: 'next' | 'earliest', seed: number, capBytes = 4096): Endpoint {
  return createEndpoint(testConfig(seededRandom(seed), { ...SELF, lateJoin, openedAtMs: 0, maxReorderBytes: capBytes, maxReassemblyBytes: capBytes / 4 }));
}

/** Feeds the steps; returns the per-stream logs (one per source incarnation and stream). Throws whatever the endpoint throws. */
function feed(ep: Endpoint, steps: readonly Step[], datagrams: readonly Buffer[]): StreamLog[] {
  const logs = new Map<string, StreamLog>();
  const finished: StreamLog[] = [];
  let nowMs = 0;
  const drain = () => {
    while (ep.pollTransmit(nowMs) !== undefined) { /* the network is not part of this test */ }
    for (let ev = ep.pollEvent(); ev !== undefined; ev = ep.pollEvent()) for (const one of splitMessages(ev)) record(logs, one, finished);
  };
  const runTimers = (untilMs: number) => {
    let turns = 0;
    for (let due = ep.pollTimeout(); due !== undefined && due <= untilMs; due = ep.pollTimeout()) {
      if (++turns > 100_000) throw new Error(`timer stuck at ${due} ms`);
      nowMs = Math.max(nowMs, due);
      ep.handleTimeout(nowMs);
      drain();
    }
    nowMs = untilMs;
  };
  steps.forEach((step, i) => {
    runTimers(nowMs + step.advanceMs);
    const dg = datagrams[i]!;
    const decoded = decodeHeader(dg);
    if (!decoded.ok) throw new Error(`built an invalid datagram: ${decoded.reason}`);
    const from = step.fromAddress ? { address: `198.18.0.${10 + step.datagram.source}`, port: 40000 } : undefined;
    ep.handleDatagram(nowMs, dg, decoded.header, from);
    drain();
  });
  runTimers(nowMs + 60_000); // sources time out, every pending loss is declared
  return [...finished, ...logs.values()];
}

function check<Ts extends [unknown, ...unknown[]]>(t: ExecutionContext, prop: fc.IProperty<Ts>, numRuns: number): void {
  const details = fc.check(prop, { numRuns });
  t.false(details.failed, fc.defaultReportMessage(details) ?? 'property failed');
  t.is(details.numRuns, numRuns);
}

for (const lateJoin of ['next', 'earliest'] as const) {
  test(`a receiver (late join '${lateJoin}') fed random datagram sequences never throws, never delivers twice or out of order, never delivers wrong bytes`, (t) => {
    let messages = 0;
    check(t, fc.property(fc.array(stepArb, { maxLength: 120 }), fc.nat(), (steps, seed) => {
      const ep = newReceiver(lateJoin, seed);
      const logs = feed(ep, steps, steps.map((s) => build(s.datagram)));
      for (const log of logs) {
        messages += log.delivered.length;
        if (log.errors.length > 0) throw new Error(`${log.key}: ${log.errors.join('; ')}`);
      }
      const st = ep.stats();
      return st.messagesDelivered === logs.reduce((n, l) => n + l.delivered.length, 0);
    }), RUNS);
    t.log(`${messages} messages delivered over ${RUNS} random sequences`);
    t.true(messages > 0); // the traffic is not all rejected: the properties above were exercised on real deliveries
  });
}

test('a receiver gets every message exactly once and in order whatever order the datagrams of a stream arrive in, duplicates included', (t) => {
  check(t, fc.property(fc.integer({ min: 1, max: 60 }), fc.nat(), fc.array(fc.nat({ max: 59 }), { maxLength: 20 }), (count, seed, dupPicks) => {
    const ep = newReceiver('earliest', seed, 1 << 20);
    // One datagram per message, then shuffled with a seeded RNG, with some duplicates.
    const rnd = seededRandom(seed);
    const order = Array.from({ length: count }, (_, i) => i).concat(dupPicks.filter((i) => i < count));
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(rnd() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    const hb = encodeHeartbeat(SOURCES[0]!, 0, [{ streamId: 0, trailSeq: 0, nextSeq: 0, ageMs: 0 }]);
    const steps: Step[] = [];
    const datagrams: Buffer[] = [hb];
    steps.push({ advanceMs: 0, fromAddress: true, datagram: { kind: 'heartbeat', source: 0, flags: 0, entries: [] } });
    for (const s of order) {
      steps.push({ advanceMs: 0, fromAddress: true, datagram: { kind: 'data', source: 0, streamId: 0, first: s, count: 1, repair: false } });
      datagrams.push(build(steps[steps.length - 1]!.datagram));
    }
    const logs = feed(ep, steps, datagrams);
    const log = logs[0];
    return log !== undefined && log.errors.length === 0 && log.delivered.length === count && log.delivered.every((s, i) => s === i);
  }), RUNS * 2);
});

// Found by the property above (2026-11): the receive side remembered closed and
// restarted sessions but not timed-out ones, so a replay of a timed-out
// session's old datagrams (or the session itself resuming after a silence
// longer than the source timeout) was delivered again under the same source id.
// Fixed: a timed-out session is remembered with where its streams ended.
test('a datagram replayed after its source timed out is not delivered again', (t) => {
  const ep = newReceiver('next', 1);
  const step: Step = { advanceMs: 0, fromAddress: false, datagram: { kind: 'data', source: 0, streamId: 0, first: 0, count: 1, repair: false } };
  const dg = build(step.datagram);
  // The source's heartbeat starts the stream (data never confirmed by a heartbeat is dropped at the timeout, not delivered).
  const beat: Step = { advanceMs: 0, fromAddress: false, datagram: { kind: 'heartbeat', source: 0, flags: 0, entries: [{ streamId: 0, r: { from: 0, to: 1 }, ageMs: 0 }] } };
  const logs = feed(ep, [step, beat, { ...step, advanceMs: 30_000 }], [dg, build(beat.datagram), dg]);
  t.deepEqual(logs.flatMap((l) => l.delivered), [0]);
});
