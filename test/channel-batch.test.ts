/**
 * The batch-level read API (`channel.on('messages', batch)`) on the simulated
 * network: the same exactly-once, in-order delivery as the per-message API,
 * a batch at a time, and nothing through the readable meanwhile.
 */

import test from 'ava';
import { MessageBatch, type Channel, type LossInfo, type Message } from '../src/index';
import { MemoryNetwork } from '../src/transport/memory';
import { drive, memory, settle } from './helpers/channel-memory';

function payload(i: number): Buffer {
  return Buffer.from(`m${i}:${'abcdefghij'.repeat(i % 5)}`);
}

interface Got {
  messages: Message[];
  batches: number;
  largestBatch: number;
}

function collect(rx: Channel): Got {
  const got: Got = { messages: [], batches: 0, largestBatch: 0 };
  rx.on('messages', (batch) => {
    t_assertBatch(batch);
    got.batches++;
    got.largestBatch = Math.max(got.largestBatch, batch.count);
    for (const m of batch) got.messages.push(m);
  });
  return got;
}

function t_assertBatch(batch: MessageBatch): void {
  if (!(batch instanceof MessageBatch) || batch.count < 1) throw new Error('not a batch');
}

async function writeAll(tx: Channel, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    if (!tx.write(payload(i))) await new Promise<void>((resolve) => tx.once('drain', resolve));
    if (i % 100 === 99) await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

for (const lossRate of [0, 0.05]) {
  test(`at ${lossRate * 100}% loss a 'messages' listener gets all 5,000 messages exactly once and in order, many per batch`, async (t) => {
    const net = new MemoryNetwork({ seed: `batch-${lossRate}`, link: { lossRate, delayMs: 0.3, jitterMs: 0.1 } });
    const rx = await memory(net, 'rx', { lateJoin: 'earliest' });
    const tx = await memory(net, 'tx');
    const got = collect(rx);
    const losses: LossInfo[] = [];
    rx.on('loss', (l) => losses.push(l));
    let readable = 0;
    rx.readable.on('data', () => readable++);
    const count = 5000;
    const writer = writeAll(tx, count);
    t.true(await drive(net, () => got.messages.length >= count, 120_000), `got ${got.messages.length}`);
    await writer;
    t.deepEqual(losses, []);
    t.is(got.messages.length, count);
    const bad = got.messages.findIndex((m, i) => m.seq !== i || !m.data.equals(payload(i)) || m.source.id !== tx.info.sessionId || m.stream !== '');
    t.is(bad, -1, `first wrong message at ${bad}`);
    t.is(readable, 0, 'nothing reaches the readable while a messages listener is attached');
    t.true(got.largestBatch > 1, 'small messages written in one turn arrive as one batch');
    t.is(rx.stats().channel.messagesReceived, count);
    t.log(`${got.batches} batches, largest ${got.largestBatch}; link drops ${net.totalLinkStats().dropped}`);
    await settle(net, Promise.all([tx.close(), rx.close()]));
  });
}

test('batch views stay valid after later batches arrive (each batch has its own copy)', async (t) => {
  const net = new MemoryNetwork({ seed: 'batch-views', link: { delayMs: 0.3 } });
  const rx = await memory(net, 'rx', { lateJoin: 'earliest' });
  const tx = await memory(net, 'tx');
  const kept: Buffer[] = [];
  rx.on('messages', (batch) => {
    for (let i = 0; i < batch.count; i++) kept.push(batch.data(i));
  });
  await writeAll(tx, 2000);
  t.true(await drive(net, () => kept.length >= 2000));
  t.is(kept.findIndex((d, i) => !d.equals(payload(i))), -1);
  await settle(net, Promise.all([tx.close(), rx.close()]));
});

test('removing the last messages listener sends messages to the readable again', async (t) => {
  const net = new MemoryNetwork({ seed: 'batch-switch', link: { delayMs: 0.3 } });
  const rx = await memory(net, 'rx', { lateJoin: 'earliest' });
  const tx = await memory(net, 'tx');
  const viaBatch: Message[] = [];
  const onBatch = (batch: MessageBatch): void => {
    for (const m of batch) viaBatch.push(m);
  };
  rx.on('messages', onBatch);
  await writeAll(tx, 100);
  t.true(await drive(net, () => viaBatch.length >= 100));
  rx.off('messages', onBatch);
  const viaReadable: Message[] = [];
  rx.readable.on('data', (m: Message) => viaReadable.push(m));
  await writeAll(tx, 100);
  t.true(await drive(net, () => viaReadable.length >= 100));
  t.deepEqual(viaReadable.map((m) => m.seq), Array.from({ length: 100 }, (_, i) => 100 + i));
  await settle(net, Promise.all([tx.close(), rx.close()]));
});

test('a batch rejects message indexes out of range with RangeError', async (t) => {
  const net = new MemoryNetwork({ seed: 'batch-range', link: { delayMs: 0.3 } });
  const rx = await memory(net, 'rx', { lateJoin: 'earliest' });
  const tx = await memory(net, 'tx');
  const batches: MessageBatch[] = [];
  rx.on('messages', (b) => batches.push(b));
  // The first datagram of a source waits for its heartbeat ('earliest'), then comes out message by message.
  tx.write('warm-up');
  t.true(await drive(net, () => batches.length > 0));
  // An idle channel sends a turn's first write at once, alone; the writes after it in the turn are packed.
  tx.write('lead');
  tx.write('one');
  tx.write('two');
  t.true(await drive(net, () => batches.length > 2));
  t.is(batches[1]!.count, 1);
  const b = batches[2]!;
  t.is(b.count, 2);
  t.deepEqual([b.data(1).toString(), b.data(0).toString()], ['two', 'one']);
  t.is(b.seq(1), b.firstSeq + 1);
  t.deepEqual([0, 1].map((i) => b.buffer.subarray(b.offset(i), b.offset(i) + b.length(i)).toString()), ['one', 'two']);
  t.throws(() => b.data(2), { instanceOf: RangeError });
  t.throws(() => b.offset(2), { instanceOf: RangeError });
  t.throws(() => b.data(-1), { instanceOf: RangeError });
  t.throws(() => b.data(0.5), { instanceOf: RangeError });
  await settle(net, Promise.all([tx.close(), rx.close()]));
});
