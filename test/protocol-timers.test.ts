/**
 * The receiver's per-source timers (src/protocol/timer-heap.ts): finding the
 * next wake-up and the sources due costs the sources touched, not every
 * tracked source, so a thousand idle (or fake) sources do not slow each turn;
 * and every source's status and timeout still fire when they are due.
 *
 * Work is counted, not timed: every look at a stream's NAK timers goes
 * through StreamReceiver.nextDueMs, which the tests wrap with a counter.
 */

import test from 'ava';
import { createEndpoint } from '../src/protocol/endpoint';
import type { Endpoint } from '../src/protocol/api';
import { CloseTracker } from '../src/protocol/close';
import { ReceiverTable } from '../src/protocol/receiver-table';
import { encodeHeartbeat, HeartbeatFlag } from '../src/protocol/payload';
import { StreamReceiver } from '../src/protocol/stream-receiver';
import { TimerHeap, type TimerEntry } from '../src/protocol/timer-heap';
import { DatagramType, encodeDatagram } from '../src/wire/header';
import { decodeHeader } from '../src/wire/decode';
import { seededRandom, testConfig } from './helpers/sim';

const FROM = { address: '198.18.0.7', port: 7000 };

/** Counts calls of StreamReceiver.nextDueMs while `fn` runs. */
function countStreamVisits(fn: () => void): number {
  const proto = StreamReceiver.prototype;
  const original = proto.nextDueMs;
  let visits = 0;
  proto.nextDueMs = function (this: StreamReceiver) {
    visits++;
    return original.call(this);
  };
  try {
    fn();
  } finally {
    proto.nextDueMs = original;
  }
  return visits;
}

function feed(ep: Endpoint, nowMs: number, dg: Buffer, port: number): void {
  const d = decodeHeader(dg);
  if (!d.ok) throw new Error(`test built an undecodable datagram: ${d.reason}`);
  ep.handleDatagram(nowMs, dg, d.header, { address: FROM.address, port });
}

/** One message at `seq` on stream 0 of session (1, lo). */
function data(lo: number, seq: number): Buffer {
  const msg = Buffer.alloc(16, 0xab);
  return encodeDatagram({ type: DatagramType.DATA, flags: 0, keyId: 0, streamId: 0, sessionHi: 1, sessionLo: lo, sequence: seq }, Buffer.concat([Buffer.from([0, msg.length]), msg]));
}

/** Session (1, lo) announces stream 0 (empty so far): the receiver starts it. */
function heartbeat(lo: number, flags = 0): Buffer {
  return encodeHeartbeat({ sessionHi: 1, sessionLo: lo }, flags, [{ streamId: 0, trailSeq: 0, nextSeq: 0, ageMs: 0 }]);
}

/**
 * A receiver tracking `idle` quiet sources (each started a stream and sent
 * one message, one per ms from time 0) and one live source (session 1:1).
 */
function receiverWith(idle: number): { ep: Endpoint; nowMs: number } {
  const ep = createEndpoint(testConfig(seededRandom(5)));
  let nowMs = 0;
  for (let i = 0; i < idle; i++, nowMs++) {
    feed(ep, nowMs, heartbeat(1000 + i), 1000 + i);
    feed(ep, nowMs, data(1000 + i, 0), 1000 + i);
  }
  feed(ep, nowMs, heartbeat(1), FROM.port);
  while (ep.pollEvent() !== undefined);
  return { ep, nowMs };
}

/** Stream visits of one driver turn for a datagram of the live source: handleDatagram, drain, pollTimeout. */
function turnVisits(idle: number): number {
  const { ep, nowMs } = receiverWith(idle);
  let seq = 0;
  // A few turns first, so that keys made stale by the set-up are refreshed.
  for (; seq < 3; seq++) {
    feed(ep, nowMs, data(1, seq), FROM.port);
    ep.pollTimeout();
  }
  return countStreamVisits(() => {
    feed(ep, nowMs, data(1, seq), FROM.port);
    while (ep.pollEvent() !== undefined);
    while (ep.pollTransmit(nowMs) !== undefined);
    ep.pollTimeout();
  });
}

test('a turn for one datagram looks at a few sources, whether 10 or 1000 idle sources are tracked', (t) => {
  const few = turnVisits(10);
  const many = turnVisits(1000);
  t.log(`stream visits per turn: ${few} with 10 idle sources, ${many} with 1000`);
  t.true(many <= few + 2, `1000 idle sources cost ${many} visits per turn, 10 cost ${few}`);
  t.true(many < 10);
});

test('each timer turn with 1000 idle sources runs only the sources that are due, and every source still gets its status', (t) => {
  const idle = 1000;
  const { ep, nowMs: start } = receiverWith(idle);
  let turns = 0;
  let statuses = 0;
  const visits = countStreamVisits(() => {
    // Timer turns as the driver runs them, until 400 ms after the set-up (which ran none: the first turns catch up).
    for (;;) {
      const at = ep.pollTimeout();
      if (at === undefined || at > start + 400) break;
      ep.handleTimeout(at);
      turns++;
      for (let dg = ep.pollTransmit(at); dg !== undefined; dg = ep.pollTransmit(at)) if (dg[3] === DatagramType.STATUS) statuses++;
    }
  });
  t.log(`${turns} timer turns, ${visits} stream visits, ${statuses} status datagrams`);
  t.true(turns > 0);
  // Each of the 1001 sources reports once per status interval (200 ms): at least twice.
  t.true(statuses >= 2 * (idle + 1), `${statuses} status datagrams`);
  // A turn visits the sources it runs (twice: to run and to re-file), and pollTimeout the top one.
  t.true(visits <= 3 * (statuses + turns), `${visits} visits for ${statuses} statuses in ${turns} turns`);
});

test('1000 idle sources time out after sourceTimeoutMs, each reported once as gone', (t) => {
  const idle = 1000;
  const { ep } = receiverWith(idle);
  const gone = new Set<string>();
  let at: number | undefined;
  while ((at = ep.pollTimeout()) !== undefined && at <= 20_000) {
    ep.handleTimeout(at);
    while (ep.pollTransmit(at) !== undefined);
    for (let e = ep.pollEvent(); e !== undefined; e = ep.pollEvent()) {
      if (e.type !== 'source-gone') continue;
      t.is(e.reason, 'timeout');
      t.false(gone.has(e.source.id), `${e.source.id} reported twice`);
      gone.add(e.source.id);
    }
  }
  t.is(gone.size, idle); // the live source sent no message: it is forgotten without a source event
  t.is(ep.stats().sources, 0);
  t.is(ep.pollTimeout(), undefined);
});

test('a closed session is ignored for 4 × sourceTimeoutMs, then forgotten: it may speak again as a new source', (t) => {
  const ep = createEndpoint(testConfig(seededRandom(3)));
  feed(ep, 0, heartbeat(77, HeartbeatFlag.CLOSED), 7700);
  t.is(ep.stats().sources, 0, 'closed with nothing outstanding: ended at once');
  feed(ep, 1000, data(77, 0), 7700);
  ep.handleTimeout(19_000);
  feed(ep, 19_000, data(77, 1), 7700);
  t.is(ep.stats().sources, 0, 'a straggler 19 s later is still ignored');
  ep.handleTimeout(20_001);
  feed(ep, 20_001, data(77, 2), 7700);
  t.is(ep.stats().sources, 1);
});

interface Item extends TimerEntry {
  id: number;
}

test('the timer heap hands out entries by key, then by filing order, through updates and removals', (t) => {
  const random = seededRandom(9);
  const heap = new TimerHeap<Item>();
  const live = new Map<number, Item>();
  for (let step = 0; step < 5000; step++) {
    const r = random();
    if (r < 0.4 || live.size === 0) {
      const e: Item = { id: step, timerAtMs: Infinity, timerSlot: -1, timerOrder: 0 };
      heap.add(e, Math.floor(random() * 100));
      live.set(e.id, e);
    } else if (r < 0.7) {
      const e = [...live.values()][Math.floor(random() * live.size)]!;
      heap.update(e, Math.floor(random() * 100));
    } else if (r < 0.85) {
      const e = [...live.values()][Math.floor(random() * live.size)]!;
      heap.remove(e);
      live.delete(e.id);
      t.is(e.timerSlot, -1);
    } else {
      const expected = [...live.values()].sort((a, b) => a.timerAtMs - b.timerAtMs || a.timerOrder - b.timerOrder)[0]!;
      const got = heap.pop()!;
      t.is(got, expected);
      live.delete(got.id);
    }
    t.is(heap.size, live.size);
  }
});

test('a stalled close is stalled at the very time its timer names, whatever the fractions of the clock', (t) => {
  // 402.2 + 2000 - 402.2 < 2000 in floating point: the close must not wake at 2402.2 and find itself not stalled (forever).
  for (const startMs of [402.2, 0.1, 1234.567, 99_999.3]) {
    const close = new CloseTracker(startMs, 2000, 250, -Infinity);
    const dueMs = close.nextDueMs(startMs);
    t.true(close.stalled(dueMs), `started at ${startMs}, due at ${dueMs}`);
    t.false(close.stalled(startMs + 1999));
  }
});

test('a silent receiver expires at the very time nextExpiryMs names, whatever the fractions of the clock', (t) => {
  // The same floating-point trap as the close: a receiver table that says "due at T" must expire the receiver at T.
  for (const startMs of [402.2, 0.1, 1234.567, 99_999.3]) {
    const table = new ReceiverTable();
    table.upsert('r', { id: '0000000000000001', address: '198.18.0.2', port: 5000 }, startMs);
    const dueMs = table.nextExpiryMs(2000)!;
    t.is(table.expire(startMs + 1999, 2000).length, 0);
    t.is(table.expire(dueMs, 2000).length, 1, `heard at ${startMs}, due at ${dueMs}`);
  }
});
