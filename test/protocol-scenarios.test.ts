import test from 'ava';
import { DatagramType } from '../src/wire/header';
import { DataFlag } from '../src/protocol/payload';
import type { ProtocolEvent } from '../src/protocol/api';
import { account, message, Sim, sourceIdOf, type SimNode } from './helpers/sim';

function schedule(sim: Sim, sender: SimNode, count: number, perTurn: number, intervalMs: number, startMs = sim.nowMs + 1, firstIndex = 0, size = 64): number {
  let lastMs = startMs;
  for (let i = 0, turn = 0; i < count; i += perTurn, turn++) {
    const first = firstIndex + i;
    const end = firstIndex + Math.min(count, i + perTurn);
    lastMs = startMs + turn * intervalMs;
    sim.at(lastMs, () => {
      const batch: Buffer[] = [];
      for (let k = first; k < end; k++) batch.push(message(k, size));
      sim.write(sender, 0, batch);
    });
  }
  return lastMs;
}

const delivered = (n: SimNode) => n.ep.stats().messagesDelivered;
const ofType = (events: ProtocolEvent[], type: ProtocolEvent['type']) => events.filter((e) => e.type === type);

test('repairs a burst of 100 consecutive lost datagrams', (t) => {
  const sim = new Sim({ seed: 11 });
  const sender = sim.add('sender');
  const r = sim.add('r', { lateJoin: 'earliest' });
  let dataSeen = 0;
  sim.filter = (from, to, h) => {
    if (from !== sender || to !== undefined || h.type !== DatagramType.DATA || (h.flags & DataFlag.REPAIR) !== 0) return true;
    dataSeen++;
    return dataSeen <= 50 || dataSeen > 150;
  };
  schedule(sim, sender, 3000, 10, 0.1);
  t.true(sim.runWhile(() => delivered(r) < 3000, 5000));
  const acc = account(r.events, sourceIdOf(sender));
  t.deepEqual(acc.errors, []);
  t.deepEqual(acc.losses, []);
  t.is(acc.indexes.length, 3000);
  t.log(`repairs sent ${sender.ep.stats().repairsSent}, NAKs ${sender.ep.stats().naksReceived}, done at ${sim.nowMs.toFixed(1)} ms`);
  t.true(sender.ep.stats().repairsSent >= 100);
});

test('delivers exactly once and in order despite reordering and duplication', (t) => {
  const sim = new Sim({ seed: 12, link: { delayMs: 0.1, jitterMs: 3, dup: 0.2, loss: 0.02 } });
  const sender = sim.add('sender');
  const rs = [sim.add('a', { lateJoin: 'earliest' }), sim.add('b', { lateJoin: 'earliest' })];
  schedule(sim, sender, 2000, 5, 0.1);
  t.true(sim.runWhile(() => rs.some((r) => delivered(r) < 2000), 5000));
  for (const r of rs) {
    const acc = account(r.events, sourceIdOf(sender));
    t.deepEqual(acc.errors, []);
    t.deepEqual(acc.losses, []);
    t.deepEqual(acc.indexes, Array.from({ length: 2000 }, (_, i) => i));
    t.true(r.ep.stats().duplicates > 0);
    t.true(r.ep.stats().reordered > 0);
  }
});

test('repairs a lost last message within a few ms thanks to fast heartbeats', (t) => {
  const sim = new Sim({ seed: 13 });
  const sender = sim.add('sender');
  const r = sim.add('r', { lateJoin: 'earliest' });
  for (let i = 0; i < 10; i++) sim.at(1 + i, () => sim.write(sender, 0, [message(i)]));
  sim.filter = (from, to, h) => !(from === sender && to === r && h.type === DatagramType.DATA && h.sequence === 9 && (h.flags & DataFlag.REPAIR) === 0);
  sim.runUntil(10);
  t.is(delivered(r), 9);
  t.true(sim.runWhile(() => delivered(r) < 10, 1000, 0.05));
  const latencyMs = sim.nowMs - 10;
  t.log(`last message (sent at 10 ms) delivered after ${latencyMs.toFixed(2)} ms`);
  t.true(latencyMs < 5);
  t.deepEqual(account(r.events, sourceIdOf(sender)).indexes, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
});

test("late join 'next' starts at the first live message, 'earliest' at the sender's trail", (t) => {
  const sim = new Sim({ seed: 14 });
  const sender = sim.add('sender');
  schedule(sim, sender, 100, 10, 0.5);
  sim.runUntil(50);
  const next = sim.add('next', { lateJoin: 'next' });
  const earliest = sim.add('earliest', { lateJoin: 'earliest' });
  sim.run(1500); // an idle heartbeat introduces the sender to both
  schedule(sim, sender, 100, 10, 0.5, sim.nowMs + 1, 100);
  t.true(sim.runWhile(() => delivered(next) < 100 || delivered(earliest) < 200, 5000));
  const n = account(next.events, sourceIdOf(sender));
  const e = account(earliest.events, sourceIdOf(sender));
  t.deepEqual(n.errors, []);
  t.deepEqual(e.errors, []);
  t.deepEqual(n.losses, []);
  t.deepEqual(e.losses, []);
  t.deepEqual(n.indexes, Array.from({ length: 100 }, (_, i) => 100 + i));
  t.deepEqual(e.indexes, Array.from({ length: 200 }, (_, i) => i));
});

test("late join 'next' still gets a stream's first messages when they are lost and the stream began after it joined", (t) => {
  const sim = new Sim({ seed: 21 });
  const next = sim.add('next', { lateJoin: 'next' });
  sim.run(20); // the receiver listens before the sender exists
  const sender = sim.add('sender');
  // The first three data datagrams never reach the receiver; it first hears the sender mid-stream.
  let dataSeen = 0;
  sim.filter = (from, _to, h) => !(from === sender && h.type === DatagramType.DATA && (h.flags & DataFlag.REPAIR) === 0 && ++dataSeen <= 3);
  schedule(sim, sender, 50, 5, 0.5);
  t.true(sim.runWhile(() => delivered(next) < 50, 5000));
  const acc = account(next.events, sourceIdOf(sender));
  t.deepEqual(acc.errors, []);
  t.deepEqual(acc.losses, []);
  t.deepEqual(acc.indexes, Array.from({ length: 50 }, (_, i) => i));
});

test('a restarted sender is a new source and the old one ends with source-gone', (t) => {
  const sim = new Sim({ seed: 15 });
  const sender = sim.add('sender');
  const r = sim.add('r', { lateJoin: 'earliest' });
  schedule(sim, sender, 50, 5, 0.5);
  sim.runUntil(20);
  const oldId = sourceIdOf(sender);
  sim.restart(sender);
  const newId = sourceIdOf(sender);
  schedule(sim, sender, 50, 5, 0.5, sim.nowMs + 1, 1000);
  sim.run(100);
  const gone = ofType(r.events, 'source-gone');
  t.deepEqual(gone.map((e) => e.type === 'source-gone' && [e.source.id, e.reason]), [[oldId, 'restarted']]);
  t.deepEqual(ofType(r.events, 'source').map((e) => e.type === 'source' && e.source.id), [oldId, newId]);
  t.is(account(r.events, oldId).indexes.length, 50);
  t.deepEqual(account(r.events, newId).indexes, Array.from({ length: 50 }, (_, i) => 1000 + i));
});

test('reports the exact range lost when a partitioned receiver falls out of the window', (t) => {
  const sim = new Sim({ seed: 16 });
  const sender = sim.add('sender', { windowMessages: 100, flowControl: 'none' });
  const r = sim.add('r', { lateJoin: 'earliest' });
  // 10 messages per datagram: seqs 0..49 before the partition, 50..549 during, 550..599 after.
  schedule(sim, sender, 50, 10, 1);
  sim.runUntil(20);
  r.partitioned = true;
  schedule(sim, sender, 500, 10, 1, 21, 50);
  sim.runUntil(100);
  r.partitioned = false;
  schedule(sim, sender, 50, 10, 1, 101, 550);
  t.true(sim.runWhile(() => delivered(r) < 190, 3000));
  sim.run(100);
  const acc = account(r.events, sourceIdOf(sender));
  t.deepEqual(acc.errors, []);
  // The receiver learns of the gap from 550..559 (sent at 101 ms); the window then holds 460..559: 50..459 are gone.
  t.deepEqual(acc.losses, [{ fromSeq: 50, toSeq: 459, reason: 'window' }]);
  t.deepEqual(acc.indexes, [...Array.from({ length: 50 }, (_, i) => i), ...Array.from({ length: 140 }, (_, i) => 460 + i)]);
});

for (const size of [1024 * 1024, 16 * 1024 * 1024]) {
  test(`reassembles a ${size / 1024 / 1024} MiB message under 5% loss`, (t) => {
    const sim = new Sim({ seed: 17, link: { loss: 0.05 } });
    const sender = sim.add('sender', { windowBytes: 40 * 1024 * 1024, windowMessages: 1 << 20, rateBytesPerSec: 200_000_000 });
    const rs = [sim.add('a', { lateJoin: 'earliest' }), sim.add('b', { lateJoin: 'earliest' })];
    sim.at(1, () => sim.write(sender, 0, [message(0, 100), message(1, size), message(2, 100)]));
    const t0 = performance.now();
    t.true(sim.runWhile(() => rs.some((r) => delivered(r) < 3), 20_000, 10));
    for (const r of rs) {
      const acc = account(r.events, sourceIdOf(sender), 0, (i) => (i === 1 ? size : 100));
      t.deepEqual(acc.errors, []);
      t.deepEqual(acc.losses, []);
      t.deepEqual(acc.indexes, [0, 1, 2]);
    }
    t.log(`virtual ${sim.nowMs.toFixed(0)} ms, wall ${(performance.now() - t0).toFixed(0)} ms, repairs ${sender.ep.stats().repairsSent}`);
  });
}

test("'min' flow control: a stalled receiver blocks the sender (send returns false, drain later) until its timeout drops it", (t) => {
  const sim = new Sim({ seed: 18, tuning: { receiverTimeoutMs: 500 } });
  const sender = sim.add('sender', { flowControl: 'min', windowMessages: 200 });
  const fast = sim.add('fast', { lateJoin: 'earliest' });
  const slow = sim.add('slow', { lateJoin: 'earliest' });
  schedule(sim, sender, 50, 10, 1);
  sim.runUntil(30);
  t.is(sender.ep.stats().receivers, 2);
  slow.running = false; // kill -STOP
  let refused = -1;
  let written = 50;
  const writeUntilRefused = () => {
    while (sim.write(sender, 0, [message(written++)]) && written < 2000) { /* window not full yet */ }
    refused = written;
  };
  sim.at(31, writeUntilRefused);
  sim.runUntil(40);
  t.true(refused > 0 && refused < 400, `send() returned false after ${refused} messages`);
  sim.runUntil(300);
  t.deepEqual(ofType(sender.events, 'drain'), [], 'no drain while the stalled receiver holds the window');
  slow.running = true; // kill -CONT: its status releases the window
  sim.pump(slow);
  t.true(sim.runWhile(() => ofType(sender.events, 'drain').length === 0, 1000));
  t.log(`refused at message ${refused}, drained at ${sim.nowMs.toFixed(1)} ms once the slow receiver resumed`);
  // Stall again and never resume: after receiverTimeoutMs it is dropped and the sender drains.
  slow.running = false;
  const drainsBefore = ofType(sender.events, 'drain').length;
  sim.at(sim.nowMs + 1, writeUntilRefused);
  sim.run(50);
  t.is(ofType(sender.events, 'drain').length, drainsBefore);
  t.true(sim.runWhile(() => ofType(sender.events, 'drain').length === drainsBefore, 2000));
  const dropped = ofType(sender.events, 'receiver-dropped');
  t.is(dropped.length, 1);
  t.like(dropped[0], { type: 'receiver-dropped', reason: 'timeout' });
  t.is(sender.ep.stats().receivers, 1);
  t.log(`dropped the stalled receiver and drained at ${sim.nowMs.toFixed(1)} ms`);
  t.deepEqual(account(fast.events, sourceIdOf(sender)).errors, []);
});

test("'max' flow control: the fastest receiver paces the sender and the laggard gets loss events", (t) => {
  const sim = new Sim({ seed: 19 });
  const sender = sim.add('sender', { flowControl: 'max', windowMessages: 100 });
  const fast = sim.add('fast', { lateJoin: 'earliest' });
  const lag = sim.add('lag', { lateJoin: 'earliest' });
  schedule(sim, sender, 50, 10, 1);
  sim.runUntil(30);
  lag.running = false;
  schedule(sim, sender, 500, 10, 1, 31, 50);
  sim.runUntil(600);
  t.is(delivered(fast), 550, 'the fast receiver is not held back by the stalled one');
  lag.running = true;
  sim.pump(lag);
  schedule(sim, sender, 10, 10, 1, sim.nowMs + 1, 550);
  sim.run(500);
  const acc = account(lag.events, sourceIdOf(sender));
  t.deepEqual(acc.errors, []);
  t.true(acc.losses.length >= 1);
  t.true(acc.losses.every((l) => l.reason === 'flow-control'), JSON.stringify(acc.losses));
  t.is(acc.indexes.length + acc.losses.reduce((n, l) => n + l.toSeq - l.fromSeq + 1, 0), 560);
  t.like(ofType(sender.events, 'receiver-dropped')[0], { reason: 'slow' });
  t.log(`laggard losses: ${JSON.stringify(acc.losses)}`);
});

test('reorder memory cap: a gap that holds too much data behind it is given up as loss memory', (t) => {
  const sim = new Sim({ seed: 20 });
  const sender = sim.add('sender');
  const r = sim.add('r', { lateJoin: 'earliest', maxReorderBytes: 64 * 1024 });
  sim.at(1, () => sim.write(sender, 0, [message(0)]));
  // Datagram seqs 1..10 never reach r, not even as a repair.
  sim.filter = (from, to, h) => !(to === r && h.type === DatagramType.DATA && h.sequence === 1);
  schedule(sim, sender, 2000, 10, 0.05, 2, 1);
  t.true(sim.runWhile(() => delivered(r) < 1991, 3000));
  const acc = account(r.events, sourceIdOf(sender));
  t.deepEqual(acc.errors, []);
  t.deepEqual(acc.losses, [{ fromSeq: 1, toSeq: 10, reason: 'memory' }]);
  t.is(acc.indexes.length, 1991);
});

test('reassembly memory cap: a message larger than the cap is reported lost (memory) and delivery goes on', (t) => {
  const sim = new Sim({ seed: 21 });
  const sender = sim.add('sender');
  const r = sim.add('r', { lateJoin: 'earliest', maxReassemblyBytes: 256 * 1024 });
  sim.at(1, () => sim.write(sender, 0, [message(0), message(1, 1024 * 1024), message(2)]));
  t.true(sim.runWhile(() => delivered(r) < 2, 1000));
  sim.run(10);
  const acc = account(r.events, sourceIdOf(sender));
  const fragments = Math.ceil((1024 * 1024) / (1472 - 32 - 8));
  t.deepEqual(acc.errors, []);
  t.deepEqual(acc.indexes, [0, 2]);
  t.deepEqual(acc.losses, [{ fromSeq: 1, toSeq: fragments, reason: 'memory' }]);
});

test('NAK suppression: 100 receivers sharing every loss cause about one NAK per lost datagram', (t) => {
  const sim = new Sim({ seed: 22, link: { delayMs: 0.1, jitterMs: 0.02 } });
  const sender = sim.add('sender');
  const rs = Array.from({ length: 100 }, (_, i) => sim.add(`r${i}`, { lateJoin: 'earliest' }));
  // Warm up so receivers know each other (status), then lose 10% of the data at the sender: every receiver misses it.
  schedule(sim, sender, 100, 10, 1);
  sim.runUntil(400);
  const naksBefore = sender.ep.stats().naksReceived;
  let lost = 0;
  sim.filter = (from, to, h) => {
    if (from !== sender || to !== undefined || h.type !== DatagramType.DATA || (h.flags & DataFlag.REPAIR) !== 0) return true;
    if (sim.rng() < 0.1) {
      lost++;
      return false;
    }
    return true;
  };
  schedule(sim, sender, 3000, 10, 1, 401, 100);
  t.true(sim.runWhile(() => rs.some((r) => delivered(r) < 3100), 10_000, 5));
  for (const r of rs.slice(0, 5)) t.deepEqual(account(r.events, sourceIdOf(sender)).errors, []);
  const naks = sender.ep.stats().naksReceived - naksBefore;
  const perLoss = naks / lost;
  const sentByReceivers = rs.reduce((n, r) => n + r.ep.stats().naksSent, 0);
  const suppressed = rs.reduce((n, r) => n + r.ep.stats().naksSuppressed, 0);
  t.log(`${lost} datagrams lost for all 100 receivers; NAKs reaching the sender ${naks} → ${perLoss.toFixed(2)} per lost datagram; suppressed ${suppressed}; repairs ${sender.ep.stats().repairsSent}`);
  t.true(lost > 20);
  t.true(perLoss < 3, `${perLoss} NAKs per lost datagram`);
  t.is(sentByReceivers - rs.reduce((n, r) => n + (r.sentByType[DatagramType.NAK] ?? 0), 0), 0);
});

test('the rate limit is honoured: no more than the rate (plus one burst) goes out in any 100 ms', (t) => {
  const rate = 1_000_000;
  const sim = new Sim({ seed: 23 });
  const sender = sim.add('sender', { rateBytesPerSec: rate, windowBytes: 8 * 1024 * 1024 });
  const r = sim.add('r', { lateJoin: 'earliest' });
  const sends: { atMs: number; bytes: number }[] = [];
  sim.filter = (from, to, h, dg) => {
    if (from === sender && to === undefined && h.type === DatagramType.DATA) sends.push({ atMs: sim.nowMs, bytes: dg.length });
    return true;
  };
  const total = 2000;
  sim.at(1, () => sim.write(sender, 0, Array.from({ length: total }, (_, i) => message(i, 1000))));
  t.true(sim.runWhile(() => delivered(r) < total, 10_000, 10));
  const bytes = sends.reduce((n, s) => n + s.bytes, 0);
  const durationMs = sends[sends.length - 1]!.atMs - sends[0]!.atMs;
  let worst = 0;
  for (let i = 0, j = 0; i < sends.length; i++) {
    while (sends[j]!.atMs < sends[i]!.atMs - 100) j++;
    let inWindow = 0;
    for (let k = j; k <= i; k++) inWindow += sends[k]!.bytes;
    worst = Math.max(worst, inWindow);
  }
  t.log(`${bytes} bytes in ${durationMs.toFixed(0)} ms = ${((bytes / durationMs) * 1000).toFixed(0)} B/s (limit ${rate}); worst 100 ms: ${worst} B`);
  t.true(durationMs >= ((bytes - 10_000) / rate) * 1000);
  t.true(worst <= rate * 0.1 + 2 * 1472 + 5000);
});

test('close announces the end: receivers end the source (closed) once everything is delivered, and the sender reports flushed', (t) => {
  const sim = new Sim({ seed: 24, link: { loss: 0.05 } });
  const sender = sim.add('sender');
  const r = sim.add('r', { lateJoin: 'earliest' });
  schedule(sim, sender, 200, 10, 0.5);
  sim.runUntil(15);
  sim.close(sender);
  t.true(sim.runWhile(() => !sender.ep.isFlushed(), 2000));
  t.true(sim.runWhile(() => ofType(r.events, 'source-gone').length === 0, 2000));
  t.like(ofType(r.events, 'source-gone')[0], { reason: 'closed' });
  t.is(account(r.events, sourceIdOf(sender)).indexes.length, 200);
});

test('a silent source times out: missing data is reported lost (source-gone)', (t) => {
  const sim = new Sim({ seed: 25, tuning: { sourceTimeoutMs: 300 } });
  const sender = sim.add('sender');
  const r = sim.add('r', { lateJoin: 'earliest' });
  schedule(sim, sender, 50, 10, 1);
  // Data 20..29 never arrives, not even as a repair, and then the sender dies.
  sim.filter = (from, to, h) => !(to === r && h.type === DatagramType.DATA && h.sequence === 20);
  sim.runUntil(4.5);
  sender.running = false;
  sim.run(1000);
  const acc = account(r.events, sourceIdOf(sender));
  t.deepEqual(acc.errors, []);
  t.like(ofType(r.events, 'source-gone')[0], { reason: 'timeout' });
  t.true(acc.losses.every((l) => l.reason === 'source-gone' || l.reason === 'retries'), JSON.stringify(acc.losses));
  t.deepEqual(acc.losses.map((l) => [l.fromSeq, l.toSeq]), [[20, 29]]);
});

test('a receiver that closes tells the sender, which stops waiting for it at once', (t) => {
  const sim = new Sim({ seed: 22 });
  const sender = sim.add('sender');
  const stay = sim.add('stay', { lateJoin: 'earliest' });
  const leave = sim.add('leave', { lateJoin: 'earliest' });
  schedule(sim, sender, 100, 10, 0.5);
  t.true(sim.runWhile(() => delivered(stay) < 100 || delivered(leave) < 100 || sender.ep.stats().receivers < 2, 2000));
  const closedAtMs = sim.nowMs;
  sim.close(leave);
  t.true(sim.runWhile(() => sender.ep.stats().receivers > 1, 100), 'the sender still counts the receiver that left');
  const dropped = ofType(sender.events, 'receiver-dropped');
  t.is(dropped.length, 1);
  t.like(dropped[0], { type: 'receiver-dropped', reason: 'left' });
  t.true(sim.nowMs - closedAtMs < 10, `noticed after ${sim.nowMs - closedAtMs} ms`);
  // The remaining receiver still paces the sender.
  schedule(sim, sender, 50, 10, 0.5, sim.nowMs + 1, 100);
  t.true(sim.runWhile(() => delivered(stay) < 150, 2000));
  t.true(sender.ep.isFlushed() || sim.runWhile(() => !sender.ep.isFlushed(), 1000));
});
