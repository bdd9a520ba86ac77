import test from 'ava';
import fc from 'fast-check';
import { replicate } from '../src/state/replica';
import { digestOf } from '../src/state/store';
import { dump, StateLab } from './fixtures/state-memory';

/** The digest of a model: key → JSON value. */
function modelDigest(model: Map<string, unknown>): string {
  return digestOf([...model].map(([k, v]) => [k, Buffer.from(JSON.stringify(v))] as [string, Buffer]));
}

test('a write on one replica reaches another; both synced with equal digests', async (t) => {
  const lab = new StateLab('basic');
  const a = await lab.replica('a');
  await lab.until(() => a.isSynced, 5000, 'a synced alone');
  const b = await lab.replica('b');
  a.set('x', 1).set('y', { z: [1, 2] });
  await lab.until(() => b.get('x') === 1 && b.isSynced, 10_000, 'b has x');
  t.deepEqual(b.get('y'), { z: [1, 2] });
  t.is(a.digest(), b.digest());
  t.true(a.delete('x'));
  await lab.until(() => !b.has('x'));
  t.is(a.digest(), b.digest());
  t.is(a.digest(), modelDigest(new Map([['y', { z: [1, 2] }]])));
  await lab.close();
});

test('a late joiner syncs 5,000 entries from the snapshot cycle while writes go on', async (t) => {
  const lab = new StateLab('late', {}, { snapshotBytesPerSec: 200_000 });
  const a = await lab.replica('a');
  await lab.until(() => a.isSynced);
  const model = new Map<string, unknown>();
  for (let i = 0; i < 5000; i++) {
    a.set(`k${i}`, `v${i}`);
    model.set(`k${i}`, `v${i}`);
  }
  await lab.run(100);
  const b = await lab.replica('b');
  let i = 0;
  await lab.until(() => {
    if (i < 300 && lab.nowMs % 5 === 0) {
      a.set(`k${i}`, `w${i}`);
      model.set(`k${i}`, `w${i}`);
      i++;
    }
    return b.isSynced && i >= 300;
  }, 60_000, 'b synced');
  await lab.converged(modelDigest(model));
  t.is(b.size, 5000);
  t.deepEqual(dump(b), dump(a));
  t.true(b.stats().snapshotsCompleted >= 1);
  await lab.close();
});

// ---- convergence under faults: a property test against a model ----

type Op =
  | { kind: 'set'; host: number; key: number; value: number }
  | { kind: 'delete'; host: number; key: number }
  | { kind: 'bulk'; host: number; from: number; count: number; value: number }
  | { kind: 'wait'; ms: number }
  | { kind: 'join' }
  | { kind: 'restart'; host: number }
  | { kind: 'partition'; split: number; ms: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 10, arbitrary: fc.record({ kind: fc.constant('set' as const), host: fc.nat(7), key: fc.nat(11), value: fc.nat(999) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('delete' as const), host: fc.nat(7), key: fc.nat(11) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('bulk' as const), host: fc.nat(7), from: fc.nat(2000), count: fc.integer({ min: 100, max: 1500 }), value: fc.nat(999) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('wait' as const), ms: fc.integer({ min: 1, max: 3000 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'join' as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('restart' as const), host: fc.nat(7) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('partition' as const), split: fc.integer({ min: 1, max: 3 }), ms: fc.integer({ min: 100, max: 8000 }) }) },
);

/**
 * Runs `ops` on replicas that start three at a time and join later, at `lossRate`, and checks that once writes stop every
 * replica is synced and holds exactly the model's content: every write in time order, the last one winning (one op per
 * virtual millisecond at most, on one shared clock, so the stamps order the writes as time does).
 */
const totals = { runs: 0, resyncs: 0, snapshots: 0 };

async function runModel(seed: number, lossRate: number, ops: readonly Op[]): Promise<{ ok: boolean; why: string }> {
  totals.runs++;
  const lab = new StateLab(seed, { lossRate }, { summaryMs: 500, snapshotBytesPerSec: 100_000 });
  const model = new Map<string, unknown>();
  let hosts = ['h0', 'h1', 'h2'];
  let next = 3;
  for (const h of hosts) await lab.replica(h);
  let healAt = -1;
  try {
    for (const op of ops) {
      if (healAt >= 0 && lab.nowMs >= healAt) {
        lab.heal();
        healAt = -1;
      }
      const host = 'host' in op ? hosts[op.host % hosts.length]! : '';
      switch (op.kind) {
        case 'set':
          lab.map(host).set(`k${op.key}`, op.value);
          model.set(`k${op.key}`, op.value);
          break;
        case 'delete':
          lab.map(host).delete(`k${op.key}`);
          model.delete(`k${op.key}`);
          break;
        case 'bulk': // enough keys for snapshots of many chunks
          for (let k = op.from; k < op.from + op.count; k++) {
            lab.map(host).set(`k${k}`, `${op.value}:${'v'.repeat(k % 50)}`);
            model.set(`k${k}`, `${op.value}:${'v'.repeat(k % 50)}`);
          }
          break;
        case 'wait':
          await lab.run(op.ms);
          break;
        case 'join': {
          const h = `h${next++}`;
          await lab.replica(h);
          hosts = [...hosts, h];
          break;
        }
        case 'restart':
          if (healAt >= 0 || hosts.length < 2) break; // a replica stopped inside a partition takes its writes with it: the model cannot know them
          await lab.stop(host);
          await lab.replica(host);
          break;
        case 'partition':
          if (healAt >= 0) break;
          lab.partition(hosts.slice(0, op.split), hosts.slice(op.split));
          healAt = lab.nowMs + op.ms;
          break;
      }
      await lab.run(1); // one op per virtual millisecond
    }
    lab.heal();
    const want = modelDigest(model);
    try {
      await lab.converged(want, 120_000);
    } catch {
      const lines = [...lab.replicas.values()].map((r) => `${r.host}: synced=${r.map.isSynced} size=${r.map.size} digest=${r.map.digest()} ${JSON.stringify(r.map.stats())}`);
      return { ok: false, why: `want ${want} (${model.size} keys: ${[...model].slice(0, 40).map(([k, v]) => `${k}=${String(v)}`).sort().join(' ')})\n${lines.join('\n')}\n${[...lab.replicas.values()].map((r) => `${r.host}: ${dump(r.map).slice(0, 40).join(' ')}`).join('\n')}` };
    }
    for (const r of lab.replicas.values()) {
      totals.resyncs += r.map.stats().resyncs;
      totals.snapshots += r.map.stats().snapshotsCompleted;
    }
    return { ok: true, why: '' };
  } finally {
    lab.heal();
    await lab.close();
  }
}

test('every replica converges on the model after concurrent writes, loss to 20 %, late joins, restarts and partitions (property)', async (t) => {
  const runs = Number(process.env['STATE_RUNS'] ?? 12);
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 1, max: 1_000_000 }), fc.constantFrom(0, 0.05, 0.2), fc.array(opArb, { minLength: 5, maxLength: 60 }), async (seed, loss, ops) => {
      const r = await runModel(seed, loss, ops);
      if (!r.ok) t.log(r.why);
      return r.ok;
    }),
    { numRuns: runs, seed: Number(process.env['STATE_SEED'] ?? 42), endOnFailure: true },
  );
  t.log(`${totals.runs} runs: ${totals.snapshots} snapshots assembled, ${totals.resyncs} resyncs (synced → not) by the replicas still up at the end`);
  t.pass();
});

// ---- the rule for concurrent writes ----

test('concurrent writes to one key in the same millisecond: every replica keeps the same one (the higher writer id)', async (t) => {
  const lab = new StateLab('concurrent');
  const a = await lab.replica('a');
  const b = await lab.replica('b');
  await lab.converged();
  a.set('k', 'from a');
  b.set('k', 'from b');
  await lab.converged();
  const winner = a.id > b.id ? 'from a' : 'from b';
  t.is(a.get('k'), winner);
  t.is(b.get('k'), winner);
  await lab.close();
});

test('a write made after seeing another wins over it even when the writer\'s clock is 10 s behind (hybrid logical clock)', async (t) => {
  const lab = new StateLab('skew');
  const ahead = await lab.replica('ahead', {}, 'm', 10_000);
  const behind = await lab.replica('behind', {}, 'm', 0);
  await lab.converged();
  ahead.set('k', 'first');
  await lab.until(() => behind.get('k') === 'first');
  behind.set('k', 'second');
  await lab.converged();
  t.is(ahead.get('k'), 'second');
  t.is(behind.get('k'), 'second');
  await lab.close();
});

test('change events name the key, the value, the previous value and the writer', async (t) => {
  const lab = new StateLab('events');
  const a = await lab.replica('a');
  const b = await lab.replica('b');
  await lab.converged();
  const seen: unknown[] = [];
  b.on('change', (c) => seen.push(c));
  a.set('k', 1);
  await lab.until(() => b.get('k') === 1);
  a.set('k', 2);
  a.delete('k');
  await lab.until(() => seen.length === 3);
  t.deepEqual(seen, [
    { key: 'k', value: 1, previous: undefined, origin: a.id },
    { key: 'k', value: 2, previous: 1, origin: a.id },
    { key: 'k', value: undefined, previous: 2, origin: a.id },
  ]);
  const local: unknown[] = [];
  b.on('change', (c) => local.push(c));
  b.set('mine', true);
  t.deepEqual(local, [{ key: 'mine', value: true, previous: undefined, origin: b.id }]);
  await lab.close();
});

test('tombstones are collected after tombstoneMs, and a stale write arriving later does not bring the key back before that', async (t) => {
  const lab = new StateLab('tombstones', {}, { tombstoneMs: 5000 });
  const a = await lab.replica('a');
  const b = await lab.replica('b');
  await lab.converged();
  a.set('k', 1);
  await lab.converged();
  lab.partition(['a'], ['b']);
  b.set('k', 'old'); // older than the delete below
  await lab.run(10);
  a.delete('k');
  t.is(a.stats().tombstones, 1);
  await lab.run(500);
  lab.heal();
  await lab.converged();
  t.false(a.has('k'));
  t.false(b.has('k'));
  await lab.run(6000);
  t.is(a.stats().tombstones, 0);
  t.is(b.stats().tombstones, 0);
  t.true(a.stats().tombstonesCollected >= 1);
  await lab.close();
});

test('a replica restarted mid-stream at 20 % loss converges on the writer\'s content', async (t) => {
  const lab = new StateLab('restart', { lossRate: 0.2 }, { snapshotBytesPerSec: 100_000 });
  const w = await lab.replica('w');
  await lab.replica('r');
  await lab.converged();
  const model = new Map<string, unknown>();
  let i = 0;
  const write = (): void => {
    const key = `k${i % 700}`;
    w.set(key, i);
    model.set(key, i);
    i++;
  };
  await lab.until(() => {
    write();
    return i >= 1000;
  });
  await lab.stop('r');
  await lab.until(() => {
    write();
    return i >= 1500;
  });
  const r = await lab.replica('r');
  await lab.until(() => {
    write();
    return i >= 3000;
  });
  await lab.converged(modelDigest(model));
  t.is(r.size, 700);
  t.deepEqual(dump(r), dump(w));
  await lab.close();
});

// ---- single-writer mode ----

test('an owned map: readers cannot write, a stranger\'s writes are ignored, and a restarted owner\'s map replaces the old one', async (t) => {
  const lab = new StateLab('owner');
  const owner = await lab.replica('owner', { owner: true });
  const reader = await lab.replica('reader', { readOnly: true });
  const stranger = await lab.replica('stranger');
  owner.set('a', 1).set('b', 2);
  await lab.until(() => reader.isSynced && reader.get('b') === 2 && stranger.get('b') === 2);
  t.throws(() => reader.set('a', 9), { name: 'ReadOnlyError', message: /readOnly/ });
  t.throws(() => stranger.set('a', 9), { name: 'ReadOnlyError', message: /has an owner/ });
  // A replica that never heard of the owner writes: the readers ignore it.
  lab.partition(['owner', 'reader', 'stranger'], ['rogue']);
  const rogue = await lab.replica('rogue');
  await lab.run(50);
  lab.heal();
  rogue.set('a', 'rogue');
  await lab.until(() => reader.stats().writesIgnored >= 1 && stranger.stats().writesIgnored >= 1);
  await lab.run(2000);
  t.is(reader.get('a'), 1);
  t.is(owner.get('a'), 1);
  await lab.stop('rogue');
  await lab.stop('owner');
  const owner2 = await lab.replica('owner', { owner: true });
  owner2.set('c', 3);
  await lab.until(() => reader.isSynced && reader.get('c') === 3 && !reader.has('a'));
  t.deepEqual(dump(reader), ['c=3']);
  t.is(reader.digest(), owner2.digest());
  await lab.close();
});

// ---- the API's edges ----

test('bad arguments throw typed errors and change nothing', async (t) => {
  const lab = new StateLab('args');
  const a = await lab.replica('a');
  const channel = lab.replicas.get('a')!.channel;
  await t.throwsAsync(replicate(channel, '', {}), { name: 'InvalidArgumentValueError' });
  await t.throwsAsync(replicate(channel, 'x', { bogus: 1 } as never), { name: 'InvalidArgumentValueError', message: /unknown option 'bogus'/ });
  await t.throwsAsync(replicate(channel, 'x', { codec: 'xml' } as never), { name: 'InvalidArgumentValueError' });
  await t.throwsAsync(replicate(channel, 'x', { owner: true, readOnly: true }), { name: 'InvalidArgumentValueError' });
  await t.throwsAsync(replicate({} as never, 'x'), { name: 'InvalidArgumentTypeError' });
  t.throws(() => a.set(1 as never, 1), { name: 'InvalidArgumentTypeError' });
  t.throws(() => a.set('k', undefined), { name: 'InvalidArgumentValueError' });
  t.throws(() => a.set('k', 10n as never), { name: 'InvalidArgumentValueError' });
  t.throws(() => a.set('k', 'x'.repeat(1024 * 1024 + 1)), { name: 'InvalidArgumentValueError', message: /more than/ });
  t.throws(() => a.set('x'.repeat(5000), 1), { name: 'InvalidArgumentValueError' });
  t.is(a.size, 0);
  t.is(a.stats().writes, 0);
  await a.close();
  t.throws(() => a.set('k', 1), { name: 'ClosedError' });
  await t.throwsAsync(a.synced(), { name: 'ClosedError' });
  await lab.close();
});

test('synced() waits, rejects on abort and on close; the buffer codec keeps bytes', async (t) => {
  const lab = new StateLab('synced');
  const a = await lab.replica('a', { codec: 'buffer' });
  const ac = new AbortController();
  const aborted = a.synced({ signal: ac.signal });
  ac.abort();
  await t.throwsAsync(aborted, { name: 'AbortError' });
  const waiting = a.synced();
  await lab.settle(waiting);
  t.true(a.isSynced);
  a.set('bin', Buffer.from([0, 1, 255]));
  t.throws(() => a.set('n', 5 as never), { name: 'InvalidArgumentTypeError' });
  const b = await lab.replica('b', { codec: 'buffer' });
  await lab.until(() => b.isSynced && b.has('bin'));
  t.deepEqual(b.get('bin'), Buffer.from([0, 1, 255]));
  const c = await lab.replica('c');
  const closing = c.synced();
  await c.close();
  await t.throwsAsync(closing, { name: 'ClosedError' });
  await lab.close();
});

test('the map leaves the channel\'s other streams alone: an unfiltered channel stays unfiltered', async (t) => {
  const lab = new StateLab('streams');
  await lab.replica('a');
  const channel = lab.replicas.get('a')!.channel;
  t.true(channel.isSubscribed('other'));
  t.true(channel.isSubscribed('state/m'));
  await lab.close();
});

// ---- resync ----

test('a joiner\'s request is answered by one replica of five, not all', async (t) => {
  const lab = new StateLab('one-answers', {}, { snapshotIntervalMs: 3_600_000 });
  const first = await lab.replica('r0');
  for (let i = 0; i < 2000; i++) first.set(`k${i}`, i);
  for (let i = 1; i < 5; i++) await lab.replica(`r${i}`);
  await lab.converged();
  const answeredBefore = [...lab.replicas.values()].reduce((n, r) => n + r.map.stats().syncRequestsAnswered, 0);
  const sentBefore = [...lab.replicas.values()].reduce((n, r) => n + r.map.stats().snapshotsSent, 0);
  const joiner = await lab.replica('joiner');
  await lab.until(() => joiner.isSynced, 10_000, 'the joiner synced');
  t.is(joiner.size, 2000);
  const others = [...lab.replicas.values()].filter((r) => r.host !== 'joiner');
  t.is(others.reduce((n, r) => n + r.map.stats().syncRequestsAnswered, 0) - answeredBefore, 1);
  t.is(others.reduce((n, r) => n + r.map.stats().snapshotsSent, 0) - sentBefore, 1);
  await lab.close();
});

test('a replica that lost deltas the channel could not repair (cut off while the writer\'s window turned over) resyncs and converges', async (t) => {
  const small = { windowBytes: 64 * 1024, maxMessageBytes: 64 * 1024 };
  const lab = new StateLab('resync', {}, { snapshotBytesPerSec: 500_000 });
  const w = await lab.replica('w', {}, 'm', 0, small);
  const r = await lab.replica('r', {}, 'm', 0, small);
  await lab.converged();
  const model = new Map<string, unknown>();
  lab.partition(['w'], ['r']);
  for (let round = 0; round < 40; round++) {
    for (let i = 0; i < 100; i++) {
      const key = `k${(round * 100 + i) % 1500}`;
      w.set(key, `${round}:${i}:${'x'.repeat(40)}`);
      model.set(key, `${round}:${i}:${'x'.repeat(40)}`);
    }
    await lab.run(400); // 16 s cut off: longer than the writer keeps a silent receiver, so its window moves on without r
  }
  lab.heal();
  await lab.converged(modelDigest(model));
  t.true(r.stats().resyncs >= 1, JSON.stringify(r.stats()));
  t.true(r.stats().snapshotsCompleted >= 1);
  t.deepEqual(dump(r), dump(w));
  await lab.close();
});

test('deleting a key this replica holds no value for still wins over an older write on its way (found by the property test)', async (t) => {
  const lab = new StateLab('delete-absent');
  const a = await lab.replica('a');
  const b = await lab.replica('b');
  a.set('k', 'first');
  a.delete('k');
  await lab.converged();
  lab.partition(['a'], ['b']);
  a.set('k', 'older');
  await lab.run(5);
  t.false(b.delete('k'), 'b has no value for k (a tombstone)');
  lab.heal();
  await lab.converged();
  t.false(a.has('k'));
  t.false(b.has('k'));
  await lab.close();
});

test('settled() waits until every replica heard is synced and agrees: a new writer\'s updates are in', async (t) => {
  const lab = new StateLab('settled', { lossRate: 0.1 });
  const a = await lab.replica('a');
  for (let i = 0; i < 500; i++) a.set(`k${i}`, i);
  const b = await lab.replica('b');
  await lab.settle(b.synced());
  const w = await lab.replica('w');
  for (let i = 0; i < 300; i++) w.set(`k${i}`, 'updated');
  await lab.run(5);
  t.false(b.isSettled, 'b has heard w, which is not synced yet');
  await lab.settle(b.settled());
  t.true(b.isSettled);
  t.is(b.digest(), w.digest());
  t.is(b.digest(), a.digest());
  t.is(b.get('k299'), 'updated');
  t.is(b.size, 500);
  await lab.close();
});

test('two newcomers that do not hear the replica holding the map do not make each other synced with nothing (found in the lab under load)', async (t) => {
  const lab = new StateLab('newcomers');
  const a = await lab.replica('a');
  await lab.until(() => a.isSynced);
  for (let i = 0; i < 2000; i++) a.set(`k${i}`, `v${i}`);
  await lab.run(500);
  lab.partition(['a'], ['x', 'y']);
  const x = await lab.replica('x');
  const y = await lab.replica('y');
  await lab.run(1500);
  t.false(x.isSynced, 'x has only had y\'s empty cycle');
  t.false(y.isSynced, 'y has only had x\'s empty cycle');
  lab.heal();
  await lab.converged(a.digest());
  t.is(x.size, 2000);
  t.is(y.size, 2000);
  await lab.close();
});

test('a replica that comes in mid-cycle starts assembling there and is synced within about one cycle, not two', async (t) => {
  const rate = 200_000;
  const lab = new StateLab('mid-cycle', {}, { snapshotBytesPerSec: rate, snapshotIntervalMs: 0 });
  const seed = await lab.replica('seed');
  await lab.until(() => seed.isSynced);
  for (let i = 0; i < 20_000; i++) seed.set(`key-${i}`, 'x'.repeat(30));
  await lab.until(() => seed.stats().snapshotsSent >= 3, 60_000, 'three background cycles'); // cycling all the time now
  const s0 = seed.stats();
  await lab.until(() => seed.stats().snapshotsSent >= s0.snapshotsSent + 1, 60_000);
  const s1 = seed.stats();
  await lab.until(() => seed.stats().snapshotsSent >= s1.snapshotsSent + 1, 60_000);
  const cycleMs = ((seed.stats().snapshotBytesSent - s1.snapshotBytesSent) / rate) * 1000;
  await lab.run(cycleMs / 2); // mid-cycle
  const startMs = lab.nowMs;
  const joiner = await lab.replica('joiner');
  await lab.until(() => joiner.isSynced, 60_000, 'the joiner synced');
  const syncMs = lab.nowMs - startMs;
  t.log(`cycle ${cycleMs.toFixed(0)} ms, joiner synced in ${syncMs} ms`);
  t.true(syncMs < cycleMs * 1.3, `synced in ${syncMs} ms; a cycle takes ${cycleMs.toFixed(0)} ms`);
  t.is(joiner.digest(), seed.digest());
  await lab.close();
});
