/**
 * The public Channel API on the simulated network: deterministic (seeded
 * network, seeded channels, virtual time), so every run is the same run.
 *
 * Virtual time only moves when the test advances it, and the application side
 * (async iterators, promises) runs between steps: {@link drive} alternates one
 * step of virtual time with one turn of the real event loop.
 */

import test from 'ava';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { open, type Channel, type LossInfo, type Message, type OpenOptions } from '../src/api/channel';
import { AbortError, ClosedError, InvalidArgumentTypeError, InvalidArgumentValueError, NotMulticastError } from '../src/util/errors';
import { hashStreamName } from '../src/api/streams';
import { MemoryNetwork } from '../src/transport/memory';
import { drive, GROUP, memory, readN, settle } from './helpers/channel-memory';
import type { TransportOptions } from '../src/transport/transport';
import type { MemoryHost } from '../src/transport/memory';
import type { Transport } from '../src/transport/transport';
import { decodeHeader } from '../src/wire/decode';
import { DatagramType } from '../src/wire/header';

function payload(i: number): string {
  return `message ${i} ${'x'.repeat(i % 50)}`;
}

/** A network that counts the transports it opens (so a test can assert that nothing was opened). */
class CountingNetwork extends MemoryNetwork {
  created = 0;
  override createTransport(host: string | MemoryHost, options: TransportOptions) {
    this.created++;
    return super.createTransport(host, options);
  }
}

test('three channels: 10,000 messages sent under 5% loss reach both readers exactly once and in order', async (t) => {
  const net = new MemoryNetwork({ seed: 42, link: { lossRate: 0.05, delayMs: 0.5 } });
  const a = await memory(net, 'a');
  const b = await memory(net, 'b', { lateJoin: 'earliest' });
  const c = await memory(net, 'c', { lateJoin: 'earliest' });
  const losses: LossInfo[] = [];
  for (const ch of [b, c]) ch.on('loss', (l) => losses.push(l));
  const N = 10_000;
  const gotB: Message[] = [];
  const gotC: Message[] = [];
  const readers = [readN(b, N, gotB), readN(c, N, gotC)];
  let sent = 0;
  let falses = 0;
  const writer = (async () => {
    while (sent < N) {
      if (!a.write(payload(sent++))) {
        falses++;
        await once(a, 'drain');
      }
      // 20 messages per turn: many datagrams, so that the loss hits many of them.
      if (sent % 20 === 0) await new Promise<void>((resolve) => setImmediate(resolve));
    }
  })();
  t.true(await drive(net, () => gotB.length >= N && gotC.length >= N, 120_000), `b got ${gotB.length}, c got ${gotC.length}`);
  await writer;
  await Promise.all(readers);
  for (const got of [gotB, gotC]) {
    t.is(got.length, N);
    let inOrder = true;
    for (let i = 0; i < N; i++) {
      if (got[i]!.data.toString() !== payload(i) || got[i]!.stream !== '' || got[i]!.source.id !== a.info.sessionId) {
        inOrder = false;
        t.fail(`message ${i} is '${got[i]!.data.toString().slice(0, 30)}'`);
        break;
      }
    }
    t.true(inOrder);
    const seqs = got.map((m) => m.seq);
    t.true(seqs.every((s, i) => i === 0 || s > seqs[i - 1]!), 'sequence numbers increase');
  }
  t.deepEqual(losses, []);
  const dropped = net.totalLinkStats().dropped;
  t.true(dropped > 50, `the network dropped ${dropped} datagrams`);
  t.true(a.stats().protocol.repairsSent > 0, 'the sender repaired');
  t.true(b.stats().protocol.naksSent + c.stats().protocol.naksSent > 0);
  t.log(`dropped ${dropped}, repairs ${a.stats().protocol.repairsSent}, write() returned false ${falses} times, virtual ${net.nowMs()} ms`);
  await settle(net, Promise.all([a.close(), b.close(), c.close()]));
});

/**
 * Opens a sender and a receiver whose acknowledgements take 100 ms to arrive,
 * writes 500-byte messages (20 per ms of virtual time) until write() returns
 * false, and measures how long until 'drain'.
 */
async function blockedForMs(flowControl: 'min' | 'none'): Promise<{ writes: number; blockedMs: number | undefined; receiverDropped: number }> {
  const net = new MemoryNetwork({ seed: 7 });
  const a = await memory(net, 'a', { flowControl, windowBytes: 64 * 1024, windowMessages: 4096 });
  const b = await memory(net, 'b');
  net.setLink('b', 'a', { delayMs: 100 }); // b's acknowledgements take 100 ms to reach a
  let receiverDropped = 0;
  a.on('receiver-dropped', (_r, reason) => {
    if (reason !== 'left') receiverDropped++; // b saying goodbye at the end is not a drop
  });
  a.write('hello');
  if (!(await drive(net, () => a.stats().protocol.receivers === 1, 1000))) throw new Error('a never heard of b');
  let writes = 0;
  let blockedAtMs = -1;
  while (writes < 5000 && blockedAtMs < 0) {
    writes++;
    if (!a.write(Buffer.alloc(500, writes & 0xff))) blockedAtMs = net.nowMs();
    if (writes % 20 === 0) net.advance(1);
  }
  if (blockedAtMs < 0) {
    await settle(net, Promise.all([a.close(), b.close()]));
    return { writes, blockedMs: undefined, receiverDropped };
  }
  let drainedAtMs = -1;
  a.once('drain', () => (drainedAtMs = net.nowMs()));
  if (!(await drive(net, () => drainedAtMs >= 0, 5000))) throw new Error('no drain');
  await settle(net, Promise.all([a.close(), b.close()]));
  return { writes, blockedMs: drainedAtMs - blockedAtMs, receiverDropped };
}

test("under 'min' flow control a slow receiver makes write() return false until its acknowledgement arrives, then 'drain' fires", async (t) => {
  const r = await blockedForMs('min');
  t.log(r);
  t.true(r.writes * 500 < 2 * 64 * 1024, `blocked after ${r.writes} writes: the window, not the test, stopped it`);
  t.true(r.blockedMs !== undefined && r.blockedMs >= 50, `blocked for ${r.blockedMs} ms: until b's acknowledgement could arrive`);
  t.is(r.receiverDropped, 0, 'the slow receiver is waited for, not dropped');
});

test("with flow control 'none' the same slow receiver does not hold the sender back", async (t) => {
  const r = await blockedForMs('none');
  t.log(r);
  t.is(r.blockedMs, undefined, `write() returned false after ${r.writes} writes: the window should free itself without b`);
  t.is(r.writes, 5000);
});

test('a reader that never reads does not stall the sender; past maxReadBufferBytes its messages are dropped and reported as read-buffer loss', async (t) => {
  const net = new MemoryNetwork({ seed: 3 });
  const a = await memory(net, 'a');
  const b = await memory(net, 'b', { maxReadBufferBytes: 10_000, readHighWaterMark: 4 });
  const c = await memory(net, 'c');
  const losses: LossInfo[] = [];
  b.on('loss', (l) => losses.push(l));
  const gotC: Message[] = [];
  const readerC = readN(c, 1000, gotC);
  let i = 0;
  const writer = (async () => {
    for (; i < 1000; i++) {
      if (!a.write(Buffer.alloc(100, i & 0xff))) await once(a, 'drain');
    }
  })();
  t.true(await drive(net, () => gotC.length >= 1000, 30_000), `c got ${gotC.length}`);
  await writer;
  await readerC;
  const s = b.stats().channel;
  t.true(s.readBufferedBytes <= 10_000);
  t.true(s.readDropped > 0);
  t.is(s.readDropped + s.messagesReceived, 1000);
  t.true(losses.length > 0 && losses.every((l) => l.reason === 'read-buffer' && l.source.id === a.info.sessionId));
  // What was buffered is still readable, in order, from the first message on.
  const first: Message[] = [];
  await readN(b, 3, first);
  t.deepEqual(first.map((m) => m.data[0]), [0, 1, 2]);
  await settle(net, Promise.all([a.close(), b.close(), c.close()]));
});

test('close waits until every receiver has acknowledged everything, then resolves', async (t) => {
  const net = new MemoryNetwork({ seed: 11, link: { delayMs: 20, lossRate: 0.02 } });
  const a = await memory(net, 'a', { lateJoin: 'earliest' });
  const b = await memory(net, 'b', { lateJoin: 'earliest' });
  const c = await memory(net, 'c', { lateJoin: 'earliest' });
  const got: Message[][] = [[], []];
  const readers = [readN(b, 500, got[0]!), readN(c, 500, got[1]!)];
  a.write('first');
  t.true(await drive(net, () => a.stats().protocol.receivers === 2, 2000));
  for (let i = 1; i < 500; i++) a.write(payload(i));
  const startMs = net.nowMs();
  let closedAtMs = -1;
  const closing = a.close().then(() => (closedAtMs = net.nowMs()));
  t.is(a.status, 'closing');
  t.throws(() => a.write('late'), { instanceOf: ClosedError });
  t.is(a.close(), a.close(), 'close() is idempotent');
  await settle(net, closing, 10_000);
  t.true(closedAtMs - startMs >= 40, `closed after ${closedAtMs - startMs} ms, at least one round trip`);
  t.true(closedAtMs - startMs < 5000, 'before the linger timeout');
  t.log(`close took ${closedAtMs - startMs} ms of virtual time`);
  t.is(a.status, 'closed');
  // Everything reached both receivers by the time close resolved.
  t.true(await drive(net, () => got[0]!.length >= 500 && got[1]!.length >= 500, 100));
  await Promise.all(readers);
  t.is(got[0]![499]!.data.toString(), payload(499));
  await settle(net, Promise.all([b.close(), c.close()]));
});

test('close gives up after lingerMs when a receiver stops acknowledging', async (t) => {
  const net = new MemoryNetwork({ seed: 12 });
  const a = await memory(net, 'a', { lingerMs: 300 });
  const b = await memory(net, 'b');
  a.write('hello');
  t.true(await drive(net, () => a.stats().protocol.receivers === 1, 1000));
  net.partition(['a'], ['b']);
  for (let i = 0; i < 100; i++) a.write(payload(i));
  const startMs = net.nowMs();
  let closedAtMs = -1;
  await settle(net, a.close().then(() => (closedAtMs = net.nowMs())), 5000);
  t.true(closedAtMs - startMs >= 300 && closedAtMs - startMs < 310, `closed after ${closedAtMs - startMs} ms`);
  net.heal();
  await settle(net, b.close());
});

test('after close the readable ends once the messages already received are read', async (t) => {
  const net = new MemoryNetwork({ seed: 13 });
  const a = await memory(net, 'a');
  const b = await memory(net, 'b');
  for (let i = 0; i < 10; i++) a.write(`m${i}`);
  t.true(await drive(net, () => b.stats().channel.readBufferedMessages + b.readable.readableLength >= 10, 1000));
  let closeEvents = 0;
  b.on('close', () => closeEvents++);
  await settle(net, b.close());
  t.is(closeEvents, 1);
  const all: string[] = [];
  for await (const m of b) all.push(m.data.toString());
  t.deepEqual(all, ['m0', 'm1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'm8', 'm9']);
  await settle(net, a.close());
});

test('await using closes the channel at the end of the block', async (t) => {
  const net = new MemoryNetwork({ seed: 14 });
  let escaped: Channel | undefined;
  const block = (async () => {
    await using ch = await memory(net, 'a');
    escaped = ch;
    ch.write('x');
  })();
  await settle(net, block);
  t.is(escaped!.status, 'closed');
});

test('writer() streams a Readable into the group with back-pressure, one message per chunk', async (t) => {
  const net = new MemoryNetwork({ seed: 15, link: { lossRate: 0.01 } });
  const a = await memory(net, 'a', { windowBytes: 32 * 1024 });
  const b = await memory(net, 'b', { lateJoin: 'earliest' });
  const N = 3000;
  const got: Message[] = [];
  const reader = readN(b, N + 1, got);
  // With a window this small, a sender evicts what no known receiver holds: let a learn of b on this stream first.
  a.write('start', 'logs');
  t.true(await drive(net, () => got.length === 1 && a.stats().protocol.receivers === 1, 1000));
  function* chunks() {
    for (let i = 0; i < N; i++) yield Buffer.from(payload(i));
  }
  const piping = pipeline(Readable.from(chunks(), { objectMode: false }), a.writer('logs'));
  await settle(net, piping, 60_000);
  t.true(await drive(net, () => got.length >= N + 1, 10_000));
  await reader;
  t.deepEqual(got.map((m) => m.data.toString()), ['start', ...Array.from({ length: N }, (_, i) => payload(i))]);
  t.true(got.every((m) => m.stream === '#' + hashStreamName('logs')), 'b never named the stream, so it sees its id');
  t.true(a.stats().channel.writesBackPressured > 0, 'the window pushed back');
  await settle(net, Promise.all([a.close(), b.close()]));
});

test('named streams: subscribe() filters delivery and names the messages', async (t) => {
  const net = new MemoryNetwork({ seed: 16 });
  const a = await memory(net, 'a');
  const b = await memory(net, 'b');
  const c = await memory(net, 'c', { streams: ['orders', 'quotes'] });
  b.subscribe('orders');
  const gotB: Message[] = [];
  const gotC: Message[] = [];
  const readers = [readN(b, 2, gotB), readN(c, 6, gotC)];
  for (let i = 0; i < 2; i++) {
    a.write(`o${i}`, 'orders');
    a.write(`q${i}`, 'quotes');
    a.write(`d${i}`);
  }
  t.true(await drive(net, () => gotB.length >= 2 && gotC.length >= 6, 1000));
  await Promise.all(readers);
  t.deepEqual(gotB.map((m) => [m.stream, m.data.toString()]), [['orders', 'o0'], ['orders', 'o1']]);
  const byStream = (s: string) => gotC.filter((m) => m.stream === s).map((m) => m.data.toString());
  t.deepEqual(byStream('orders'), ['o0', 'o1']);
  t.deepEqual(byStream('quotes'), ['q0', 'q1']);
  t.deepEqual(byStream(''), ['d0', 'd1']);
  t.is(b.stats().channel.messagesFiltered, 4);
  await settle(net, Promise.all([a.close(), b.close(), c.close()]));
});

test('two stream names that map to the same id are detected and rejected', async (t) => {
  // Find a colliding pair by brute force (the birthday bound makes it quick).
  const seen = new Map<number, string>();
  let pair: [string, string] | undefined;
  for (let i = 0; !pair; i++) {
    const name = `s${i}`;
    const id = hashStreamName(name);
    const other = seen.get(id);
    if (other !== undefined) pair = [other, name];
    else seen.set(id, name);
  }
  const net = new MemoryNetwork({ seed: 17 });
  const a = await memory(net, 'a');
  a.write('x', pair[0]);
  const err = t.throws(() => a.write('y', pair[1]), { instanceOf: InvalidArgumentValueError });
  t.regex(err!.message, new RegExp(`'${pair[1]}'.*'${pair[0]}'`));
  t.throws(() => a.subscribe(pair[1]), { instanceOf: InvalidArgumentValueError });
  t.throws(() => a.writer(pair[1]), { instanceOf: InvalidArgumentValueError });
  await t.throwsAsync(memory(net, 'b', { streams: [pair[0], pair[1]] }), { instanceOf: InvalidArgumentValueError, message: /options\.streams/ });
  await t.throwsAsync(memory(net, 'b', { streams: { one: 5, two: 5 } }), { instanceOf: InvalidArgumentValueError, message: /'two'.*'one'/ });
  // Explicit ids avoid the collision.
  const c = await memory(net, 'c', { streams: { [pair[0]]: 100, [pair[1]]: 101 } });
  t.true(c.write('ok', pair[1]));
  await settle(net, Promise.all([a.close(), c.close()]));
});

const badOptions: Array<[string, Record<string, unknown>, new (...args: never[]) => Error, string, RegExp]> = [
  ['a missing group', {}, InvalidArgumentTypeError, 'BLIPCAST_ERR_INVALID_ARG_TYPE', /group/],
  ['a group that is a number', { group: 5000 }, InvalidArgumentTypeError, 'BLIPCAST_ERR_INVALID_ARG_TYPE', /group.*5000/],
  ['a group without a port', { group: '239.255.0.1' }, InvalidArgumentValueError, 'BLIPCAST_ERR_INVALID_ARG_VALUE', /group.*239\.255\.0\.1/],
  ['a unicast group', { group: '10.0.0.1:5000' }, NotMulticastError, 'BLIPCAST_ERR_NOT_MULTICAST', /10\.0\.0\.1/],
  ['a port out of range', { group: '239.255.0.1:70000' }, InvalidArgumentValueError, 'BLIPCAST_ERR_INVALID_ARG_VALUE', /port.*70000/],
  ['a ttl of 256', { ttl: 256 }, InvalidArgumentValueError, 'BLIPCAST_ERR_INVALID_ARG_VALUE', /ttl.*256/],
  ['a ttl that is a string', { ttl: '1' }, InvalidArgumentTypeError, 'BLIPCAST_ERR_INVALID_ARG_TYPE', /ttl.*'1'/],
  ['loopback that is not a boolean', { loopback: 1 }, InvalidArgumentTypeError, 'BLIPCAST_ERR_INVALID_ARG_TYPE', /loopback.*1/],
  ['an unknown transport', { transport: 'carrier-pigeon' }, InvalidArgumentValueError, 'BLIPCAST_ERR_INVALID_ARG_VALUE', /transport.*carrier-pigeon/],
  ['an unknown flow control', { flowControl: 'fastest' }, InvalidArgumentValueError, 'BLIPCAST_ERR_INVALID_ARG_VALUE', /flowControl.*fastest/],
  ['an unknown late join', { lateJoin: 'yesterday' }, InvalidArgumentValueError, 'BLIPCAST_ERR_INVALID_ARG_VALUE', /lateJoin.*yesterday/],
  ['a zero window', { windowBytes: 0 }, InvalidArgumentValueError, 'BLIPCAST_ERR_INVALID_ARG_VALUE', /windowBytes.*0/],
  ['a fractional window', { windowMessages: 1.5 }, InvalidArgumentValueError, 'BLIPCAST_ERR_INVALID_ARG_VALUE', /windowMessages.*1\.5/],
  ['a negative rate', { rateBytesPerSec: -1 }, InvalidArgumentValueError, 'BLIPCAST_ERR_INVALID_ARG_VALUE', /rateBytesPerSec.*-1/],
  ['a message limit above the window', { windowBytes: 1000, maxMessageBytes: 2000 }, InvalidArgumentValueError, 'BLIPCAST_ERR_INVALID_ARG_VALUE', /maxMessageBytes.*2000/],
  ['a datagram limit below the minimum', { maxDatagramBytes: 10 }, InvalidArgumentValueError, 'BLIPCAST_ERR_INVALID_ARG_VALUE', /maxDatagramBytes.*10/],
  ['a negative linger', { lingerMs: -5 }, InvalidArgumentValueError, 'BLIPCAST_ERR_INVALID_ARG_VALUE', /lingerMs.*-5/],
  ['a NaN linger', { lingerMs: NaN }, InvalidArgumentValueError, 'BLIPCAST_ERR_INVALID_ARG_VALUE', /lingerMs.*NaN/],
  ['a signal that is not an AbortSignal', { signal: {} }, InvalidArgumentTypeError, 'BLIPCAST_ERR_INVALID_ARG_TYPE', /signal/],
  ['streams that are a string', { streams: 'orders' }, InvalidArgumentTypeError, 'BLIPCAST_ERR_INVALID_ARG_TYPE', /streams.*'orders'/],
  ['a stream id out of range', { streams: { orders: 70000 } }, InvalidArgumentValueError, 'BLIPCAST_ERR_INVALID_ARG_VALUE', /streams.*orders.*70000/],
  ['a protocol timer of zero', { heartbeatIdleMs: 0 }, InvalidArgumentValueError, 'BLIPCAST_ERR_INVALID_ARG_VALUE', /heartbeatIdleMs.*0/],
  ['a misspelt option', { ttL: 1 }, InvalidArgumentValueError, 'BLIPCAST_ERR_INVALID_ARG_VALUE', /ttL/],
  ['a memory transport without a network', { network: undefined }, InvalidArgumentTypeError, 'BLIPCAST_ERR_INVALID_ARG_TYPE', /network/],
  ['a seed that is an object', { seed: {} }, InvalidArgumentTypeError, 'BLIPCAST_ERR_INVALID_ARG_TYPE', /seed/],
];

for (const [what, bad, errorClass, code, message] of badOptions) {
  test(`open() rejects ${what} with ${errorClass.name} (${code}) naming the option, and opens nothing`, async (t) => {
    const net = new CountingNetwork({ seed: 1 });
    net.host('a');
    const options = { group: GROUP, transport: 'memory', network: net, host: 'a', ...bad } as Record<string, unknown>;
    if (!('group' in bad) && Object.keys(bad).length === 0) delete options.group;
    const err = await t.throwsAsync(open(options as unknown as OpenOptions), { instanceOf: errorClass, message });
    t.is((err as Error & { code: string }).code, code);
    t.is(net.created, 0, 'no transport was opened');
    t.is(net.pendingEvents, 0, 'no timer was armed');
  });
}

test('open() rejects an interface this host does not have with UnknownInterfaceError before opening a socket', async (t) => {
  const err = await t.throwsAsync(open({ group: GROUP, interface: 'no-such-if0', transport: 'dgram' }));
  t.is(err!.name, 'UnknownInterfaceError');
  t.is((err as Error & { code: string }).code, 'BLIPCAST_ERR_UNKNOWN_INTERFACE');
  t.regex(err!.message, /no-such-if0/);
});

test('write() rejects bad data with typed errors and sends nothing', async (t) => {
  const net = new MemoryNetwork({ seed: 18 });
  const a = await memory(net, 'a', { maxMessageBytes: 100 });
  t.throws(() => a.write(42 as unknown as string), { instanceOf: InvalidArgumentTypeError, code: 'BLIPCAST_ERR_INVALID_ARG_TYPE' as never });
  t.throws(() => a.write(Buffer.alloc(101)), { instanceOf: InvalidArgumentValueError, message: /101.*maxMessageBytes/ });
  t.throws(() => a.write('x', 7 as unknown as string), { instanceOf: InvalidArgumentTypeError, message: /stream/ });
  t.is(a.stats().channel.messagesWritten, 0);
  await settle(net, a.close());
});

test('writeMany() sends a batch in order, packed into full datagrams, and a bad message in it sends none of it', async (t) => {
  const net = new MemoryNetwork({ seed: 181 });
  const a = await memory(net, 'a', { maxMessageBytes: 100 });
  const b = await memory(net, 'b', { lateJoin: 'earliest' });
  const got: Message[] = [];
  const reader = readN(b, 1001, got);
  a.write('warm-up');
  t.true(await drive(net, () => got.length === 1, 1000));
  const before = a.stats().transport.datagramsSent;
  const batch = Array.from({ length: 1000 }, (_, i) => (i % 2 === 0 ? payload(i) : Buffer.from(payload(i))));
  t.true(a.writeMany(batch));
  t.true(await drive(net, () => got.length >= 1001, 2000));
  await reader;
  t.deepEqual(got.slice(1).map((m) => m.data.toString()), Array.from({ length: 1000 }, (_, i) => payload(i)));
  // 1000 messages of about 20 bytes fill datagrams of 1472 bytes: about 16 datagrams, not one per message.
  const datagrams = a.stats().transport.datagramsSent - before;
  t.true(datagrams < 40, `${datagrams} datagrams for 1000 messages`);
  t.is(a.stats().channel.messagesWritten, 1001);

  const sentBefore = a.stats().protocol.messagesSent;
  t.throws(() => a.writeMany(['ok', 42 as unknown as string]), { instanceOf: InvalidArgumentTypeError, message: /messages\[1\]/ });
  t.throws(() => a.writeMany(['ok', Buffer.alloc(101)]), { instanceOf: InvalidArgumentValueError, message: /messages\[1\] of 101 bytes exceeds maxMessageBytes/ });
  t.throws(() => a.writeMany('ok' as unknown as string[]), { instanceOf: InvalidArgumentTypeError, message: /array/ });
  t.is(a.stats().protocol.messagesSent, sentBefore, 'a batch with a bad message sends nothing');
  t.is(a.stats().channel.messagesWritten, 1001);
  t.true(a.writeMany([]));
  await settle(net, Promise.all([a.close(), b.close()]));
  t.throws(() => a.writeMany(['late']), { instanceOf: ClosedError });
});

test('a write on an idle channel leaves at once, before the turn ends; the writes after it in the turn are packed at its end', async (t) => {
  const net = new MemoryNetwork({ seed: 182 });
  let dataSent = 0;
  const countData = (tr: Transport): Transport => {
    const send = tr.send.bind(tr);
    tr.send = (datagrams) => {
      for (const d of datagrams) {
        const r = decodeHeader(d);
        if (r.ok && r.header.type === DatagramType.DATA) dataSent++;
      }
      return send(datagrams);
    };
    return tr;
  };
  const a = await memory(net, 'a', { wrapTransport: countData });
  const b = await memory(net, 'b', { lateJoin: 'earliest' });
  const got: Message[] = [];
  const reader = readN(b, 5, got);
  a.write('warm-up');
  t.true(await drive(net, () => got.length === 1, 1000));
  await drive(net, () => false, 50); // let the warm-up's flush turn pass
  const before = dataSent;
  a.write('first');
  t.is(dataSent, before + 1, 'sent inside write(): nothing was waiting');
  a.write('second');
  a.write('third');
  a.write('fourth');
  t.is(dataSent, before + 1, 'the rest of the turn waits for its end');
  t.true(await drive(net, () => got.length >= 5, 1000));
  await reader;
  t.is(dataSent, before + 2, 'and leaves in one datagram');
  t.deepEqual(got.map((m) => m.data.toString()), ['warm-up', 'first', 'second', 'third', 'fourth']);
  await settle(net, Promise.all([a.close(), b.close()]));
});

test('an already aborted signal makes open() reject with AbortError and opens nothing', async (t) => {
  const net = new CountingNetwork({ seed: 19 });
  net.host('a');
  const controller = new AbortController();
  controller.abort(new Error('shutting down'));
  const err = await t.throwsAsync(open({ group: GROUP, transport: 'memory', network: net, host: 'a', signal: controller.signal }), { instanceOf: AbortError });
  t.is((err as AbortError).code, 'ABORT_ERR');
  t.is(((err as AbortError).cause as Error).message, 'shutting down');
  t.is(net.created, 0);
});

test('aborting the signal after open() closes the channel and ends its iterator', async (t) => {
  const net = new MemoryNetwork({ seed: 20 });
  const controller = new AbortController();
  const a = await memory(net, 'a');
  const b = await memory(net, 'b', { signal: controller.signal });
  const got: string[] = [];
  const reading = (async () => {
    for await (const m of b) got.push(m.data.toString());
  })();
  a.write('before');
  t.true(await drive(net, () => got.length === 1, 1000));
  controller.abort();
  t.is(b.status, 'closing');
  await settle(net, reading);
  t.is(b.status, 'closed');
  t.deepEqual(got, ['before']);
  t.throws(() => b.write('after'), { instanceOf: ClosedError });
  await settle(net, a.close());
});

test('garbage on the group is counted by reject reason and never reaches the reader', async (t) => {
  const net = new MemoryNetwork({ seed: 21 });
  const a = await memory(net, 'a');
  const b = await memory(net, 'b');
  net.host('x');
  const raw = net.createTransport('x', { group: '239.255.7.1', port: 7000 });
  const good = Buffer.alloc(40);
  raw.send([Buffer.from('short'), Buffer.alloc(40, 0x55)]);
  void good;
  a.write('real');
  const got: Message[] = [];
  const reader = readN(b, 1, got);
  t.true(await drive(net, () => got.length === 1, 1000));
  await reader;
  const r = b.stats().rejects;
  t.is(r.truncated, 1);
  t.is(r['bad-magic'], 1);
  t.is(got[0]!.data.toString(), 'real');
  await raw.close();
  await settle(net, Promise.all([a.close(), b.close()]));
});

test('info and stats describe the channel', async (t) => {
  const net = new MemoryNetwork({ seed: 22 });
  const a = await memory(net, 'a', { interface: 'eth0' });
  t.like(a.info, { transport: 'memory', group: GROUP, address: '239.255.7.1', port: 7000, family: 4, interface: 'eth0' });
  t.regex(a.info.sessionId, /^[0-9a-f]{16}$/);
  a.write('x');
  net.advance(1);
  const s = a.stats();
  t.is(s.protocol.messagesSent, 1);
  t.true(s.transport.datagramsSent >= 1);
  t.is(s.channel.messagesWritten, 1);
  t.deepEqual(Object.keys(s.rejects).sort(), [
    'auth-failed', 'bad-announcement', 'bad-checksum', 'bad-length', 'bad-magic', 'bad-sequence', 'bad-version', 'clear-on-keyed',
    'keyed-on-clear', 'replay', 'truncated', 'unknown-key', 'unknown-type', 'untrusted-signer', 'unverified',
  ]);
  await settle(net, a.close());
});

test('the same seeds replay the same run', async (t) => {
  async function run(): Promise<string> {
    const net = new MemoryNetwork({ seed: 99, link: { lossRate: 0.1, jitterMs: 2 } });
    const a = await memory(net, 'a');
    const b = await memory(net, 'b', { lateJoin: 'earliest' });
    const got: Message[] = [];
    const reader = readN(b, 300, got);
    for (let i = 0; i < 300; i++) a.write(payload(i));
    await drive(net, () => got.length >= 300, 10_000);
    await reader;
    const summary = JSON.stringify([net.nowMs(), a.stats().protocol, b.stats().protocol]);
    await settle(net, Promise.all([a.close(), b.close()]));
    return summary;
  }
  t.is(await run(), await run());
});

/** A transport decorator whose socket takes at most `perCall` datagrams per send (the rest would block). */
function throttled(inner: Transport, perCall: number): Transport & { refused: number; errorListener?: (err: Error) => void } {
  const t = {
    refused: 0,
    errorListener: undefined as ((err: Error) => void) | undefined,
    get kind() { return inner.kind; },
    get info() { return inner.info; },
    receive: (h: Parameters<Transport['receive']>[0]) => inner.receive(h),
    send(datagrams: readonly Uint8Array[]): number {
      const n = Math.min(perCall, datagrams.length);
      t.refused += datagrams.length - n;
      return inner.send(datagrams.slice(0, n));
    },
    close: () => inner.close(),
    stats: () => inner.stats(),
    onError(listener: (err: Error) => void) {
      t.errorListener = listener;
      inner.onError(listener);
    },
  };
  return t;
}

test('datagrams the socket would not take are kept and sent on a later tick, in order', async (t) => {
  const net = new MemoryNetwork({ seed: 23 });
  let wrapped: ReturnType<typeof throttled> | undefined;
  // No loopback: every retry then comes from the driver's timer, not from a turn caused by its own datagrams coming back.
  const a = await memory(net, 'a', { loopback: false, wrapTransport: (tr) => (wrapped = throttled(tr, 2)) });
  const b = await memory(net, 'b', { lateJoin: 'earliest' });
  const got: Message[] = [];
  const reader = readN(b, 2000, got);
  for (let i = 0; i < 2000; i++) a.write(payload(i)); // one turn: about 56 datagrams, 2 per send
  net.advance(0);
  const waiting = a.stats().channel.unsentDatagrams;
  t.true(waiting > 10, `${waiting} datagrams wait for the socket`);
  t.true(await drive(net, () => got.length >= 2000, 5000));
  await reader;
  t.true(wrapped!.refused > 0);
  t.deepEqual(got.map((m) => m.data.toString()), Array.from({ length: 2000 }, (_, i) => payload(i)));
  t.true(await drive(net, () => a.stats().channel.unsentDatagrams === 0, 100), 'the heartbeats queued behind the data leave too');
  t.is(b.stats().protocol.naksSent, 0, 'nothing was lost: the driver held the datagrams back, it did not drop them');
  await settle(net, Promise.all([a.close(), b.close()]));
});

test("transport errors are emitted as 'error', at most one per second, the rest counted", async (t) => {
  const net = new MemoryNetwork({ seed: 24 });
  let wrapped: ReturnType<typeof throttled> | undefined;
  const a = await memory(net, 'a', { wrapTransport: (tr) => (wrapped = throttled(tr, Infinity)) });
  const errors: Error[] = [];
  a.on('error', (err) => errors.push(err));
  for (let i = 0; i < 5; i++) wrapped!.errorListener!(new Error(`send failed ${i}`));
  t.deepEqual(errors.map((e) => e.message), ['send failed 0']);
  net.advance(1000);
  wrapped!.errorListener!(new Error('send failed later'));
  t.is(errors.length, 2);
  t.like(a.stats().channel, { errors: 2, errorsSuppressed: 4 });
  await settle(net, a.close());
});

test("a send error on an idle write() is emitted as 'error' after write() returns, not from inside it", async (t) => {
  const net = new MemoryNetwork({ seed: 241 });
  let failing = false;
  const a = await memory(net, 'a', {
    wrapTransport: (tr) => {
      const send = tr.send.bind(tr);
      tr.send = (datagrams) => {
        if (failing) throw new Error('send failed');
        return send(datagrams);
      };
      return tr;
    },
  });
  const errors: Error[] = [];
  a.on('error', (err) => errors.push(err));
  await drive(net, () => false, 50); // past the opening turns: the next write is an idle one
  failing = true;
  t.notThrows(() => a.write('x'));
  t.is(errors.length, 0, 'not inside write()');
  await new Promise((r) => process.nextTick(r));
  t.deepEqual(errors.map((e) => e.message), ['send failed']);
  failing = false;
  await settle(net, a.close());
});

test('an IPv6 group works the same way', async (t) => {
  const net = new MemoryNetwork({ seed: 25 });
  const group = '[ff15::7]:7001';
  const a = await memory(net, 'a', { group });
  const b = await memory(net, 'b', { group });
  t.like(a.info, { address: 'ff15::7', port: 7001, family: 6, group });
  const got: Message[] = [];
  const reader = readN(b, 1, got);
  a.write(Buffer.alloc(5000, 6)); // fragmented: larger than a datagram
  t.true(await drive(net, () => got.length === 1, 1000));
  await reader;
  t.is(got[0]!.data.length, 5000);
  t.true(got[0]!.source.address!.startsWith('2001:2::'));
  t.true(a.stats().transport.bytesSent / a.stats().transport.datagramsSent <= 1452, 'datagrams fit an IPv6 1500-byte link');
  await settle(net, Promise.all([a.close(), b.close()]));
});
