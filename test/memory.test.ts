import test from 'ava';
import { ClosedError, InvalidArgumentValueError, NotMulticastError } from '../src/util/errors';
import { createRandom } from '../src/util/random';
import { createDgramTransport } from '../src/transport/dgram';
import { MemoryNetwork, withLoss, type LinkConditions } from '../src/transport/memory';
import type { DatagramBatch, Transport } from '../src/transport/transport';
import { loopbackOptions, randomEndpoint, sleep, waitFor } from './transport.suite';

const GROUP = { group: '239.255.10.1', port: 5000 };

function index(i: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt32LE(i, 0);
  return b;
}

/** Records the index in each datagram, in arrival order. */
function indices(t: Transport): { got: number[]; batches: number[] } {
  const out = { got: [] as number[], batches: [] as number[] };
  t.receive((batch: DatagramBatch) => {
    out.batches.push(batch.count);
    for (let i = 0; i < batch.count; i++) out.got.push(batch.datagram(i).readUInt32LE(0));
  });
  return out;
}

/** Binomial bound: |observed - n p| ≤ 5 σ. */
function withinFiveSigma(observed: number, n: number, p: number): boolean {
  const sigma = Math.sqrt(n * p * (1 - p));
  return Math.abs(observed - n * p) <= 5 * sigma;
}

/** A run with every kind of impairment, returning a trace of (time, receiver, datagram). */
function impairedRun(seed: number): string[] {
  const network = new MemoryNetwork({ seed, link: { lossRate: 0.1, duplicateRate: 0.05, reorderRate: 0.1, reorderDelayMs: 3, delayMs: 2, jitterMs: 4 } });
  const trace: string[] = [];
  const sender = network.createTransport(network.host('s'), GROUP);
  for (const name of ['r1', 'r2', 'r3']) {
    const r = network.createTransport(network.host(name), GROUP);
    r.receive((batch) => {
      for (let i = 0; i < batch.count; i++) trace.push(`${network.nowMs().toFixed(6)} ${name} ${batch.datagram(i).readUInt32LE(0)}`);
    });
  }
  let next = 0;
  const tick = (): void => {
    sender.send([index(next++), index(next++)]);
    if (next < 1000) network.setTimer(tick, 0.5);
  };
  network.setTimer(tick, 0);
  network.runFor(1000);
  return trace;
}

test('the same seed replays exactly the same run; another seed gives another', (t) => {
  const a = impairedRun(42);
  const b = impairedRun(42);
  const c = impairedRun(43);
  t.true(a.length > 2500);
  t.deepEqual(a, b);
  t.notDeepEqual(a, c);
});

test('a link with 10% loss loses 10% of datagrams, within five sigma, and counts them', (t) => {
  const n = 20_000;
  const network = new MemoryNetwork({ seed: 7 });
  network.setLink('a', 'b', { lossRate: 0.1 });
  const sender = network.createTransport(network.host('a'), GROUP);
  const r = indices(network.createTransport(network.host('b'), GROUP));
  for (let i = 0; i < n; i += 100) {
    sender.send(Array.from({ length: 100 }, (_, k) => index(i + k)));
    network.advance(1);
  }
  const lost = n - r.got.length;
  t.log(`lost ${lost} of ${n} (expected ${n * 0.1})`);
  t.true(withinFiveSigma(lost, n, 0.1));
  const stats = network.linkStats('a', 'b');
  t.is(stats.datagrams, n);
  t.is(stats.dropped, lost);
  t.is(stats.forwarded, r.got.length);
  t.deepEqual(network.linkStats('b', 'a').datagrams, 0);
});

test('a link with duplication delivers some datagrams twice and counts them', (t) => {
  const n = 10_000;
  const network = new MemoryNetwork({ seed: 8, link: { duplicateRate: 0.2 } });
  const sender = network.createTransport(network.host('a'), GROUP);
  const r = indices(network.createTransport(network.host('b'), GROUP));
  sender.send(Array.from({ length: n }, (_, i) => index(i)));
  network.advance(0);
  const extra = r.got.length - n;
  t.true(withinFiveSigma(extra, n, 0.2));
  t.is(network.linkStats('a', 'b').duplicated, extra);
  t.is(new Set(r.got).size, n);
});

test('reordering holds some datagrams back so later ones overtake them; without it order is kept', (t) => {
  const n = 1000;
  const run = (link: LinkConditions): { got: number[]; reordered: number } => {
    const network = new MemoryNetwork({ seed: 9, link });
    const sender = network.createTransport(network.host('a'), GROUP);
    const r = indices(network.createTransport(network.host('b'), GROUP));
    for (let i = 0; i < n; i++) {
      sender.send([index(i)]);
      network.advance(0.1);
    }
    network.advance(10);
    return { got: r.got, reordered: network.linkStats('a', 'b').reordered };
  };
  const inOrder = run({});
  t.deepEqual(inOrder.got, Array.from({ length: n }, (_, i) => i));
  const shuffled = run({ reorderRate: 0.1, reorderDelayMs: 2 });
  t.deepEqual([...shuffled.got].sort((x, y) => x - y), inOrder.got);
  let overtaken = 0;
  for (let i = 1; i < n; i++) if (shuffled.got[i]! < shuffled.got[i - 1]!) overtaken++;
  t.true(withinFiveSigma(shuffled.reordered, n, 0.1));
  t.true(overtaken > 0 && overtaken <= shuffled.reordered);
});

test('a delayed link delivers after exactly the delay, and jitter stays within its bound', (t) => {
  const network = new MemoryNetwork({ seed: 10 });
  network.setLink('a', 'b', { delayMs: 25 });
  network.setLink('a', 'c', { delayMs: 25, jitterMs: 10 });
  const sender = network.createTransport(network.host('a'), GROUP);
  const arrivals: Record<string, number[]> = { b: [], c: [] };
  for (const name of ['b', 'c'] as const) {
    network.createTransport(network.host(name), GROUP).receive((batch) => {
      for (let i = 0; i < batch.count; i++) arrivals[name]!.push(network.nowMs());
    });
  }
  network.advance(5);
  sender.send(Array.from({ length: 200 }, (_, i) => index(i)));
  network.advance(29.9);
  t.deepEqual(arrivals.b!.length, 200);
  t.true(arrivals.b!.every((ms) => ms === 30));
  network.advance(10);
  t.is(arrivals.c!.length, 200);
  t.true(arrivals.c!.every((ms) => ms >= 30 && ms < 40));
  t.true(new Set(arrivals.c).size > 100, 'jitter spreads arrivals');
});

test('a partition cuts both directions between its sides until heal()', (t) => {
  const network = new MemoryNetwork({ seed: 11 });
  const names = ['a', 'b', 'c'];
  const transports = names.map((name) => network.createTransport(network.host(name), GROUP));
  const got = transports.map((tr) => {
    const texts: string[] = [];
    tr.receive((batch) => {
      for (let i = 0; i < batch.count; i++) texts.push(batch.datagram(i).toString());
    });
    return texts;
  });
  network.partition(['a'], ['b', 'c']);
  transports[0]!.send([Buffer.from('a1')]);
  transports[1]!.send([Buffer.from('b1')]);
  network.advance(1);
  t.deepEqual(got, [['a1'], ['b1'], ['b1']]);
  t.is(network.linkStats('a', 'b').partitioned, 1);
  t.is(network.linkStats('b', 'a').partitioned, 1);
  network.heal();
  transports[0]!.send([Buffer.from('a2')]);
  network.advance(1);
  t.deepEqual(got, [['a1', 'a2'], ['b1', 'a2'], ['b1', 'a2']]);
});

test('loopback off keeps a datagram from every transport on the sender’s host, and TTL 0 keeps it on the host', (t) => {
  const network = new MemoryNetwork({ seed: 12 });
  const a = network.host('a');
  const b = network.host('b');
  const quiet = network.createTransport(a, { ...GROUP, loopback: false });
  const neighbour = network.createTransport(a, GROUP);
  const remote = network.createTransport(b, GROUP);
  const local = network.createTransport(a, { ...GROUP, ttl: 0 });
  const counts = [quiet, neighbour, remote].map((tr) => indices(tr).got);
  quiet.send([index(1)]);
  network.advance(0);
  t.deepEqual(counts, [[], [], [1]]);
  local.send([index(2)]);
  network.advance(0);
  t.deepEqual(counts, [[2], [2], [1]]);
});

test('a source-specific transport receives only from its source host', (t) => {
  const network = new MemoryNetwork({ seed: 13 });
  const a = network.host('a', { address: '198.18.1.1' });
  const b = network.host('b', { address: '198.18.1.2' });
  const fromA = indices(network.createTransport(network.host('c'), { ...GROUP, source: '198.18.1.1' }));
  network.createTransport(a, GROUP).send([index(1)]);
  network.createTransport(b, GROUP).send([index(2)]);
  network.advance(0);
  t.deepEqual(fromA.got, [1]);
});

test('datagrams due at one transport at the same instant arrive as one batch, with their source and destination', (t) => {
  const network = new MemoryNetwork({ seed: 14, link: { delayMs: 1 } });
  const sender = network.createTransport(network.host('a', { address: '198.18.0.10' }), GROUP);
  const receiver = network.createTransport(network.host('b'), GROUP);
  const batches: Array<{ atMs: number; count: number; source: string; destination: string | undefined; first: number }> = [];
  receiver.receive((batch) => {
    batches.push({ atMs: network.nowMs(), count: batch.count, source: batch.source(0).address, destination: batch.destination(0), first: batch.buffer.readUInt32LE(batch.offsets[0]!) });
  });
  for (let i = 0; i < 50; i++) sender.send([index(i)]);
  network.advance(0.5);
  for (let i = 50; i < 80; i++) sender.send([index(i)]);
  network.advance(5);
  t.deepEqual(batches, [
    { atMs: 1, count: 50, source: '198.18.0.10', destination: GROUP.group, first: 0 },
    { atMs: 1.5, count: 30, source: '198.18.0.10', destination: GROUP.group, first: 50 },
  ]);
  t.is(receiver.stats().batches, 2);
  t.is(receiver.stats().datagramsReceived, 80);
});

test('timers fire in time order at their virtual time, ties in the order they were set, and only when time is advanced', (t) => {
  const network = new MemoryNetwork();
  const fired: string[] = [];
  const at = (label: string) => (): void => {
    fired.push(`${label}@${network.nowMs()}`);
  };
  network.setTimer(at('c'), 30);
  network.setTimer(at('a1'), 10);
  network.setTimer(at('b'), 20);
  network.setTimer(at('a2'), 10);
  const cancelled = network.setTimer(at('never'), 15);
  network.setTimer(at('now'), 0);
  network.clearTimer(cancelled);
  t.deepEqual(fired, [], 'nothing runs before time moves');
  network.advance(0);
  t.deepEqual(fired, ['now@0']);
  network.advance(19.5);
  t.is(network.nowMs(), 19.5);
  t.deepEqual(fired, ['now@0', 'a1@10', 'a2@10']);
  network.setTimer(() => {
    fired.push(`nested@${network.nowMs()}`);
    network.setTimer(at('inner'), 0);
  }, 5);
  network.advance(100);
  t.deepEqual(fired, ['now@0', 'a1@10', 'a2@10', 'b@20', 'nested@24.5', 'inner@24.5', 'c@30']);
  t.is(network.nowMs(), 119.5);
  network.clearTimer(cancelled); // clearing again, and clearing a fired timer, is harmless
});

test('runUntil stops at the event that satisfies the predicate, or gives up after maxMs', (t) => {
  const network = new MemoryNetwork();
  let count = 0;
  const tick = (): void => {
    count++;
    network.setTimer(tick, 10);
  };
  network.setTimer(tick, 10);
  t.true(network.runUntil(() => count === 3, { maxMs: 1000 }));
  t.is(network.nowMs(), 30);
  t.false(network.runUntil(() => count === 1000, { maxMs: 50 }));
  t.is(network.nowMs(), 80);
  t.is(count, 8);
});

test('100 receivers × 10,000 datagrams run on the memory network', (t) => {
  const network = new MemoryNetwork({ seed: 15, link: { delayMs: 1 } });
  const sender = network.createTransport(network.host('sender'), GROUP);
  const totals = new Array<number>(100).fill(0);
  for (let r = 0; r < 100; r++) {
    network.createTransport(network.host(`r${r}`), GROUP).receive((batch) => {
      totals[r]! += batch.count;
    });
  }
  const payload = Buffer.alloc(200, 1);
  const burst = Array.from({ length: 100 }, () => payload);
  const startMs = performance.now();
  for (let i = 0; i < 100; i++) {
    sender.send(burst);
    network.advance(1);
  }
  network.advance(1);
  const elapsedMs = performance.now() - startMs;
  t.log(`1,000,000 deliveries (100 receivers × 10,000 datagrams of 200 bytes) in ${elapsedMs.toFixed(0)} ms`);
  t.true(totals.every((n) => n === 10_000));
});

test('100 receivers × 10,000 datagrams with 1% loss and jitter run on the memory network', (t) => {
  const network = new MemoryNetwork({ seed: 16, link: { delayMs: 1, jitterMs: 2, lossRate: 0.01 } });
  const sender = network.createTransport(network.host('sender'), GROUP);
  let total = 0;
  for (let r = 0; r < 100; r++) {
    network.createTransport(network.host(`r${r}`), GROUP).receive((batch) => {
      total += batch.count;
    });
  }
  const payload = Buffer.alloc(200, 1);
  const burst = Array.from({ length: 100 }, () => payload);
  const startMs = performance.now();
  for (let i = 0; i < 100; i++) {
    sender.send(burst);
    network.advance(1);
  }
  network.advance(5);
  const elapsedMs = performance.now() - startMs;
  t.log(`1,000,000 offered, ${total} delivered one per batch under jitter, in ${elapsedMs.toFixed(0)} ms`);
  t.true(withinFiveSigma(1_000_000 - total, 1_000_000, 0.01));
  t.is(network.totalLinkStats().dropped, 1_000_000 - total);
});

test('the bytes delivered are a copy: the sender may reuse its buffer at once', (t) => {
  const network = new MemoryNetwork({ link: { delayMs: 5 } });
  const sender = network.createTransport(network.host('a'), GROUP);
  const r = indices(network.createTransport(network.host('b'), GROUP));
  const scratch = Buffer.alloc(8);
  for (let i = 0; i < 10; i++) {
    scratch.writeUInt32LE(i, 0);
    sender.send([scratch]);
  }
  scratch.fill(0xff);
  network.advance(5);
  t.deepEqual(r.got, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
});

test('a closed memory transport gets nothing more and refuses to send', async (t) => {
  const network = new MemoryNetwork({ link: { delayMs: 5 } });
  const sender = network.createTransport(network.host('a'), GROUP);
  const receiver = network.createTransport(network.host('b'), GROUP);
  const r = indices(receiver);
  sender.send([index(1)]);
  await receiver.close();
  await receiver.close();
  network.advance(10);
  t.deepEqual(r.got, []);
  t.throws(() => receiver.send([index(2)]), { instanceOf: ClosedError });
});

test('the memory transport checks options like a socket does, and counts oversized datagrams as truncated', (t) => {
  const network = new MemoryNetwork();
  const host = network.host('a');
  t.throws(() => network.createTransport(host, { group: '10.0.0.1', port: 5000 }), { instanceOf: NotMulticastError });
  t.throws(() => network.createTransport(host, { ...GROUP, ttl: 256 }), { instanceOf: InvalidArgumentValueError });
  t.throws(() => network.setLink('a', '*', { lossRate: 2 }), { instanceOf: InvalidArgumentValueError });
  const small = network.createTransport(host, { ...GROUP, maxDatagramBytes: 100 });
  const got = indices(small);
  small.send([Buffer.alloc(101), index(7)]);
  network.advance(0);
  t.deepEqual(got.got, [7]);
  t.is(small.stats().truncated, 1);
});

test('withLoss drops about the requested fraction of what a real dgram transport receives, repeatably by seed', async (t) => {
  const n = 4000;
  const endpoint = randomEndpoint();
  const sender = await createDgramTransport(loopbackOptions(endpoint));
  const lossyA = withLoss(await createDgramTransport(loopbackOptions(endpoint, { recvBufferBytes: 1 << 20 })), { lossRate: 0.25, seed: 99 });
  const lossyB = withLoss(await createDgramTransport(loopbackOptions(endpoint, { recvBufferBytes: 1 << 20 })), { lossRate: 0.25, seed: 99 });
  t.teardown(() => Promise.all([sender.close(), lossyA.close(), lossyB.close()]));
  t.is(lossyA.kind, 'dgram');
  const keptA = indices(lossyA);
  const keptB = indices(lossyB);
  for (let i = 0; i < n; i += 50) {
    sender.send(Array.from({ length: 50 }, (_, k) => index(i + k)));
    await sleep(1);
  }
  await waitFor(() => lossyA.lossStats().seen >= n && lossyB.lossStats().seen >= n, 'every datagram to reach both decorators', 10_000);
  const { seen, dropped } = lossyA.lossStats();
  t.log(`dropped ${dropped} of ${seen} (expected ${n * 0.25})`);
  t.is(seen, n);
  t.is(lossyA.stats().datagramsReceived, n, 'the socket itself received everything');
  t.is(keptA.got.length, n - dropped);
  t.true(withinFiveSigma(dropped, n, 0.25));
  t.deepEqual(keptA.got, keptB.got, 'same seed, same arrivals → same drops');
});

test('withLoss works on the memory network too and rejects a bad rate', (t) => {
  const network = new MemoryNetwork();
  const sender = network.createTransport(network.host('a'), GROUP);
  const lossy = withLoss(network.createTransport(network.host('b'), GROUP), { lossRate: 0.5, seed: 'x' });
  const got = indices(lossy);
  sender.send(Array.from({ length: 2000 }, (_, i) => index(i)));
  network.advance(0);
  t.is(got.got.length, 2000 - lossy.lossStats().dropped);
  t.true(withinFiveSigma(lossy.lossStats().dropped, 2000, 0.5));
  t.throws(() => withLoss(lossy, { lossRate: -0.1 }), { instanceOf: InvalidArgumentValueError });
});

test('the seeded generator repeats by seed and is uniform enough', (t) => {
  const a = createRandom(5);
  const b = createRandom(5);
  const xs = Array.from({ length: 1000 }, () => a.next());
  t.deepEqual(xs, Array.from({ length: 1000 }, () => b.next()));
  const c = createRandom(6);
  t.notDeepEqual(xs, Array.from({ length: 1000 }, () => c.next()));
  const buckets = new Array<number>(10).fill(0);
  const r = createRandom('buckets');
  for (let i = 0; i < 100_000; i++) buckets[Math.floor(r.next() * 10)]!++;
  t.true(buckets.every((count) => withinFiveSigma(count, 100_000, 0.1)));
});
