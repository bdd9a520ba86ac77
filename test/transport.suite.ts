/**
 * The one transport suite: the same tests on every real transport (native
 * addon and node:dgram). Loopback only: interface 127.0.0.1, TTL 0, groups
 * in 239.255.0.0/16, a random port in 20000–60000 per test. What a kind cannot
 * do is skipped by name, with the reason in the test title.
 */

import test, { type ExecutionContext } from 'ava';
import * as dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { ClosedError, InvalidArgumentValueError, NotMulticastError, UnknownInterfaceError } from '../src/util/errors';
import type { DatagramBatch, RemoteInfo, Transport, TransportKind, TransportOptions } from '../src/transport/transport';

export type TransportFactory = (options: TransportOptions) => Promise<Transport>;

/** Things a transport kind may be unable to do, each with the reason. */
type Capability = 'destination' | 'kernelDrops';

const CANNOT: Partial<Record<TransportKind, Partial<Record<Capability, string>>>> = {
  dgram: {
    destination: 'node:dgram does not expose IP_PKTINFO, so this transport cannot tell where a datagram was sent; the native transport can.',
    kernelDrops: 'node:dgram does not expose SO_RXQ_OVFL, so this transport cannot count kernel drops; the native transport can.',
  },
};

const LOOPBACK = '127.0.0.1';

/** A random group in 239.255.0.0/16 and a random port in 20000–60000, so parallel tests (and other people's) do not meet. */
export function randomEndpoint(): { group: string; port: number } {
  const x = 1 + Math.floor(Math.random() * 254);
  const y = 1 + Math.floor(Math.random() * 254);
  return { group: `239.255.${x}.${y}`, port: 20000 + Math.floor(Math.random() * 40000) };
}

/** Loopback-only options for `group:port`. */
export function loopbackOptions(endpoint: { group: string; port: number }, extra: Partial<TransportOptions> = {}): TransportOptions {
  return { group: endpoint.group, port: endpoint.port, interface: LOOPBACK, ttl: 0, ...extra };
}

interface Received {
  bytes: Buffer;
  source: RemoteInfo;
  destination: string | undefined;
}

/** Starts receiving on `t` and keeps copies of everything, plus the number of batches. */
export function collect(t: Transport): { datagrams: Received[]; batches: number[] } {
  const out = { datagrams: [] as Received[], batches: [] as number[] };
  t.receive((batch: DatagramBatch) => {
    out.batches.push(batch.count);
    for (let i = 0; i < batch.count; i++) {
      out.datagrams.push({ bytes: Buffer.from(batch.datagram(i)), source: batch.source(i), destination: batch.destination(i) });
    }
  });
  return out;
}

/** Resolves once `predicate()` holds; rejects after `timeoutMs` with `what`. */
export async function waitFor(predicate: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(2);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The most datagrams the native sender puts in one GSO run (native/socket.h kMaxGsoSegments): a dropped coalesced run holds at most this many. */
const MAX_SEND_RUN = 64;

/** Runs `open` with UDP GRO off for the transports it creates (the option is read when the transport is created, synchronously). */
function withoutGro<T>(open: () => Promise<T>): Promise<T> {
  const before = process.env.BLIPCAST_UDP_GRO;
  process.env.BLIPCAST_UDP_GRO = '0';
  try {
    return open();
  } finally {
    if (before === undefined) delete process.env.BLIPCAST_UDP_GRO;
    else process.env.BLIPCAST_UDP_GRO = before;
  }
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function texts(received: { datagrams: Received[] }): string[] {
  return received.datagrams.map((d) => d.bytes.toString());
}

function readSysctl(path: string): number {
  try {
    return Number(readFileSync(path, 'utf8').trim());
  } catch {
    return Infinity;
  }
}

export function transportSuite(kind: TransportKind, factory: TransportFactory): void {
  const cannot = CANNOT[kind] ?? {};
  const name = (title: string): string => `${kind}: ${title}`;

  /** Opens transports and closes them when the test ends, pass or fail. */
  const open = async (t: ExecutionContext, options: TransportOptions): Promise<Transport> => {
    const transport = await factory(options);
    t.teardown(() => transport.close());
    return transport;
  };

  /** Registers a test that needs `capability`, or a skipped one saying why this kind cannot. */
  const testNeeding = (capability: Capability, title: string, body: (t: ExecutionContext) => Promise<void>): void => {
    const reason = cannot[capability];
    if (reason !== undefined) test.skip(name(`${title} — skipped: ${reason}`), () => undefined);
    else test(name(title), body);
  };

  test(name('a datagram sent to the group arrives with exactly the bytes sent, from 127.0.0.1'), async (t) => {
    const endpoint = randomEndpoint();
    const sender = await open(t, loopbackOptions(endpoint));
    const receiver = await open(t, loopbackOptions(endpoint));
    t.is(sender.kind, kind);
    t.is(receiver.info.group, endpoint.group);
    t.is(receiver.info.port, endpoint.port);
    t.is(receiver.info.family, 4);
    const got = collect(receiver);
    const payloads = [1, 100, 1472, 8000].map((n, k) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + k) & 0xff)));
    t.is(sender.send(payloads), payloads.length);
    await waitFor(() => got.datagrams.length >= payloads.length, 'all four datagrams');
    t.deepEqual(got.datagrams.map((d) => d.bytes), payloads);
    for (const d of got.datagrams) {
      t.is(d.source.address, LOOPBACK);
      t.is(d.source.family, 4);
      t.true(d.source.port > 0);
    }
    const sent = sender.stats();
    t.is(sent.datagramsSent, 4);
    t.is(sent.bytesSent, 1 + 100 + 1472 + 8000);
    const stats = receiver.stats();
    t.is(stats.datagramsReceived, 4);
    t.is(stats.bytesReceived, 1 + 100 + 1472 + 8000);
    t.true(stats.batches >= 1 && stats.batches <= 4);
  });

  test(name('the caller may reuse a datagram buffer as soon as send() returns'), async (t) => {
    const endpoint = randomEndpoint();
    const sender = await open(t, loopbackOptions(endpoint));
    const got = collect(await open(t, loopbackOptions(endpoint)));
    const scratch = Buffer.alloc(64);
    for (let i = 0; i < 50; i++) {
      scratch.fill(i);
      t.is(sender.send([scratch]), 1);
    }
    scratch.fill(0xee);
    await waitFor(() => got.datagrams.length >= 50, '50 datagrams');
    t.deepEqual(got.datagrams.map((d) => d.bytes[0]), Array.from({ length: 50 }, (_, i) => i));
  });

  // The native transport drops its own datagrams in the kernel (a socket filter, docs/native.md); the others hand them back.
  const receivesOwn = kind !== 'native';

  test(name(receivesOwn ? 'with loopback on a socket receives its own datagrams, and so does a second socket' : 'with loopback on a socket does not receive its own datagrams, while a second socket does'), async (t) => {
    const endpoint = randomEndpoint();
    const self = await open(t, loopbackOptions(endpoint, { loopback: true }));
    const got = collect(self);
    const second = collect(await open(t, loopbackOptions(endpoint)));
    self.send([Buffer.from('echo')]);
    await waitFor(() => second.datagrams.length >= 1 && (!receivesOwn || got.datagrams.length >= 1), 'the datagram');
    await sleep(50);
    t.deepEqual(texts(second), ['echo']);
    t.deepEqual(texts(got), receivesOwn ? ['echo'] : []);
  });

  test(name('with loopback off a socket does not receive its own datagrams, but still receives the others’, and a second socket receives its datagrams on lo'), async (t) => {
    const endpoint = randomEndpoint();
    const quiet = await open(t, loopbackOptions(endpoint, { loopback: false }));
    const other = await open(t, loopbackOptions(endpoint, { loopback: true }));
    const quietGot = collect(quiet);
    const otherGot = collect(other);
    quiet.send([Buffer.from('from-quiet')]);
    other.send([Buffer.from('from-other')]);
    // On lo the kernel loops multicast back whatever IP_MULTICAST_LOOP says, so the second socket does get it.
    await waitFor(() => otherGot.datagrams.length >= (receivesOwn ? 2 : 1) && quietGot.datagrams.length >= 1, 'the datagrams at the second socket');
    await sleep(50);
    t.deepEqual(texts(otherGot).sort(), receivesOwn ? ['from-other', 'from-quiet'] : ['from-quiet']);
    t.deepEqual(texts(quietGot), ['from-other']);
  });

  test(name('ttl 0..255 is accepted'), async (t) => {
    for (const ttl of [0, 1, 2, 64, 255]) {
      const transport = await factory(loopbackOptions(randomEndpoint(), { ttl }));
      await transport.close();
    }
    t.pass();
  });

  test(name('ttl outside 0..255 is rejected with InvalidArgumentValueError'), async (t) => {
    for (const ttl of [-1, 256, 1.5, 1000, Number.NaN]) {
      const err = await t.throwsAsync(factory(loopbackOptions(randomEndpoint(), { ttl })), { instanceOf: InvalidArgumentValueError }, `ttl ${ttl}`);
      t.is(err?.code, 'BLIPCAST_ERR_INVALID_ARG_VALUE');
    }
  });

  test(name('two sockets on the same port with different groups each see only their own group'), async (t) => {
    const { port } = randomEndpoint();
    const a = { group: '239.255.77.1', port };
    const b = { group: '239.255.77.2', port };
    const ta = await open(t, loopbackOptions(a));
    const tb = await open(t, loopbackOptions(b));
    const gotA = collect(ta);
    const gotB = collect(tb);
    (await open(t, loopbackOptions(a))).send([Buffer.from('to-a')]);
    (await open(t, loopbackOptions(b))).send([Buffer.from('to-b')]);
    await waitFor(() => gotA.datagrams.length >= 1 && gotB.datagrams.length >= 1, 'one datagram at each socket');
    await sleep(50);
    t.deepEqual(texts(gotA), ['to-a']);
    t.deepEqual(texts(gotB), ['to-b']);
  });

  test(name('a source-specific join receives from that source and nothing from any other'), async (t) => {
    const endpoint = randomEndpoint();
    const sender = await open(t, loopbackOptions(endpoint));
    const anySource = collect(await open(t, loopbackOptions(endpoint)));
    const fromLoopback = collect(await open(t, loopbackOptions(endpoint, { source: '127.0.0.1' })));
    // 127.0.0.2 is a valid source that never sends here: nothing is added to the system.
    const fromElsewhere = collect(await open(t, loopbackOptions(endpoint, { source: '127.0.0.2' })));
    sender.send([Buffer.from('ssm')]);
    await waitFor(() => anySource.datagrams.length >= 1 && fromLoopback.datagrams.length >= 1, 'the any-source and 127.0.0.1 joins to receive');
    await sleep(50);
    t.deepEqual(texts(fromLoopback), ['ssm']);
    t.deepEqual(texts(fromElsewhere), []);
  });

  testNeeding('destination', 'each datagram reports the group as its destination address', async (t) => {
    const endpoint = randomEndpoint();
    const transport = await open(t, loopbackOptions(endpoint));
    const got = collect(transport);
    (await open(t, loopbackOptions(endpoint))).send([Buffer.from('where')]);
    await waitFor(() => got.datagrams.length >= 1, 'the datagram');
    t.is(got.datagrams[0]!.destination, endpoint.group);
  });

  test(name('requested kernel buffer sizes are granted and reported'), async (t) => {
    const rmemMax = readSysctl('/proc/sys/net/core/rmem_max');
    const wmemMax = readSysctl('/proc/sys/net/core/wmem_max');
    const small = await open(t, loopbackOptions(randomEndpoint(), { recvBufferBytes: 65536, sendBufferBytes: 65536 }));
    const large = await open(t, loopbackOptions(randomEndpoint(), { recvBufferBytes: 1 << 20, sendBufferBytes: 1 << 20 }));
    t.log(`granted: 64 KiB → recv ${small.info.recvBufferBytes} send ${small.info.sendBufferBytes}; 1 MiB → recv ${large.info.recvBufferBytes} send ${large.info.sendBufferBytes} (rmem_max ${rmemMax}, wmem_max ${wmemMax})`);
    t.true(small.info.recvBufferBytes! >= Math.min(65536, rmemMax));
    t.true(small.info.sendBufferBytes! >= Math.min(65536, wmemMax));
    t.true(large.info.recvBufferBytes! >= Math.min(1 << 20, rmemMax));
    t.true(large.info.sendBufferBytes! >= Math.min(1 << 20, wmemMax));
    t.true(large.info.recvBufferBytes! > small.info.recvBufferBytes!);
  });

  test(name('a unicast group is rejected with NotMulticastError'), async (t) => {
    for (const group of ['10.1.2.3', '127.0.0.1', '240.0.0.1']) {
      const err = await t.throwsAsync(factory(loopbackOptions({ group, port: randomEndpoint().port })), { instanceOf: NotMulticastError });
      t.is(err?.code, 'BLIPCAST_ERR_NOT_MULTICAST');
    }
  });

  test(name('an unknown interface is rejected with UnknownInterfaceError'), async (t) => {
    const err = await t.throwsAsync(factory(loopbackOptions(randomEndpoint(), { interface: 'nosuch0' })), { instanceOf: UnknownInterfaceError });
    t.is(err?.code, 'BLIPCAST_ERR_UNKNOWN_INTERFACE');
  });

  test(name('binding a port held by a socket without SO_REUSEADDR fails with EADDRINUSE from bind'), async (t) => {
    const blocker = dgram.createSocket({ type: 'udp4', reuseAddr: false });
    t.teardown(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
    const port = await new Promise<number>((resolve, reject) => {
      blocker.once('error', reject);
      blocker.bind({ port: randomEndpoint().port, address: '0.0.0.0', exclusive: true }, () => resolve(blocker.address().port));
    });
    const err = await t.throwsAsync(factory(loopbackOptions({ group: randomEndpoint().group, port })));
    const system = err as Error & { code?: string; errno?: number; syscall?: string };
    t.is(system.code, 'EADDRINUSE');
    t.is(system.syscall, 'bind');
    t.is(Math.abs(system.errno ?? 0), 98); // Linux EADDRINUSE
  });

  test.serial(name('100,000 datagrams sent at a paced rate all arrive, in batches'), async (t) => {
    const total = 100_000;
    const endpoint = randomEndpoint();
    const sender = await open(t, loopbackOptions(endpoint, { loopback: true }));
    const receiver = await open(t, loopbackOptions(endpoint, { recvBufferBytes: 4 << 20 }));
    const seen = new Uint8Array(total);
    let received = 0;
    let duplicates = 0;
    receiver.receive((batch) => {
      for (let i = 0; i < batch.count; i++) {
        const index = batch.buffer.readUInt32LE(batch.offsets[i]!);
        if (seen[index]) duplicates++;
        seen[index] = 1;
        received++;
      }
    });
    const burst: Buffer[] = Array.from({ length: 64 }, () => Buffer.alloc(100));
    const startMs = performance.now();
    let sent = 0;
    while (sent < total) {
      // Pace on what arrived: one process both sends and receives here, so the
      // sender must not outrun the receive loop by more than a socket buffer.
      while (sent - received > 4096) await nextTurn();
      const n = Math.min(64, total - sent);
      for (let k = 0; k < n; k++) burst[k]!.writeUInt32LE(sent + k, 0);
      const accepted = sender.send(burst.slice(0, n));
      sent += accepted;
      await nextTurn();
    }
    await waitFor(() => received >= total, `${total} datagrams (have ${received})`, 20_000).catch(() => undefined);
    const elapsedMs = performance.now() - startMs;
    const stats = receiver.stats();
    t.log(`${kind}: ${received}/${total} received in ${elapsedMs.toFixed(0)} ms (${Math.round(received / (elapsedMs / 1000))} datagrams/s), ${stats.batches} batches (avg ${(received / stats.batches).toFixed(1)}), kernel drops ${stats.kernelDrops}, sender would-block ${sender.stats().sendWouldBlock}`);
    t.is(received, total);
    t.is(duplicates, 0);
    t.true(stats.batches < total, 'batches are fewer than datagrams');
    t.is(stats.datagramsReceived, total);
  });

  /**
   * A burst of 2000 datagrams into a receiver with a 4 KiB buffer, then probes
   * until every datagram is received or counted as dropped, a drop standing
   * for `perDrop` datagrams at most. SO_RXQ_OVFL stamps the drop count on
   * datagrams queued AFTER the drops, so once the buffer has drained, probes
   * carry the count to the receiver (probes of their own size are never
   * coalesced with the burst's runs).
   */
  async function overflow(t: ExecutionContext, gro: boolean, perDrop: number): Promise<{ sent: number; received: number; drops: number }> {
    const endpoint = randomEndpoint();
    const sender = await open(t, loopbackOptions(endpoint));
    const openReceiver = () => open(t, loopbackOptions(endpoint, { recvBufferBytes: 4096 }));
    const receiver = await (gro ? openReceiver() : withoutGro(openReceiver));
    let received = 0;
    receiver.receive((batch) => {
      received += batch.count;
    });
    // One synchronous burst: the receiver cannot read until it is over, so its small buffer overflows.
    const burst = Array.from({ length: 2000 }, () => Buffer.alloc(200));
    let sent = 0;
    while (sent < burst.length) sent += sender.send(burst.slice(sent));
    await waitFor(() => {
      if (received + receiver.stats().kernelDrops * perDrop >= sent) return true;
      sent += sender.send([Buffer.from('probe')]);
      return false;
    }, 'every datagram received or counted as dropped');
    return { sent, received, drops: receiver.stats().kernelDrops };
  }

  testNeeding('kernelDrops', 'datagrams the kernel drops for a full receive buffer are counted', async (t) => {
    // One datagram per socket-buffer entry: UDP GRO off (a dropped coalesced run counts once; see the next test).
    const { sent, received, drops } = await overflow(t, false, 1);
    t.log(`received ${received}, kernel drops ${drops}`);
    t.true(drops > 0);
    t.is(received + drops, sent);
  });

  testNeeding('kernelDrops', 'with UDP GRO (the default) a dropped run of coalesced datagrams counts once: kernelDrops is a lower bound', async (t) => {
    const { sent, received, drops } = await overflow(t, true, MAX_SEND_RUN);
    t.log(`received ${received} of ${sent}, kernel drops ${drops} (runs of up to ${MAX_SEND_RUN})`);
    t.true(drops > 0);
    t.true(received + drops <= sent, 'never more than what was lost');
    t.true(received + drops * MAX_SEND_RUN >= sent, 'every lost datagram inside a counted run');
  });

  test(name('after close() is called the handler is never called again, though datagrams keep coming'), async (t) => {
    const endpoint = randomEndpoint();
    const sender = await open(t, loopbackOptions(endpoint));
    const receiver = await factory(loopbackOptions(endpoint));
    const watcher = collect(await open(t, loopbackOptions(endpoint)));
    let closeCalled = false;
    let callsAfterClose = 0;
    let calls = 0;
    receiver.receive(() => {
      calls++;
      if (closeCalled) callsAfterClose++;
    });
    let sending = true;
    const pump = (async () => {
      while (sending) {
        sender.send(Array.from({ length: 16 }, () => Buffer.from('flood')));
        await nextTurn();
      }
    })();
    await waitFor(() => calls >= 5, 'a few batches before close');
    closeCalled = true;
    const closing = receiver.close();
    await closing;
    const watcherBefore = watcher.datagrams.length;
    await waitFor(() => watcher.datagrams.length > watcherBefore + 200, 'more datagrams after close');
    sending = false;
    await pump;
    t.is(callsAfterClose, 0);
  });

  test(name('close() inside the handler stops delivery at once'), async (t) => {
    const endpoint = randomEndpoint();
    const sender = await open(t, loopbackOptions(endpoint));
    const receiver = await factory(loopbackOptions(endpoint));
    let calls = 0;
    let closing: Promise<void> | undefined;
    receiver.receive(() => {
      calls++;
      closing ??= receiver.close();
    });
    for (let i = 0; i < 20; i++) {
      sender.send(Array.from({ length: 32 }, () => Buffer.from('x')));
      await nextTurn();
    }
    await waitFor(() => closing !== undefined, 'the first batch');
    await closing;
    await sleep(30);
    t.is(calls, 1);
  });

  test(name('close() twice resolves both times'), async (t) => {
    const transport = await factory(loopbackOptions(randomEndpoint()));
    const first = transport.close();
    const second = transport.close();
    await t.notThrowsAsync(first);
    await t.notThrowsAsync(second);
    await t.notThrowsAsync(transport.close());
    t.is(transport.stats().datagramsSent, 0);
  });

  test(name('send() after close throws ClosedError'), async (t) => {
    const transport = await factory(loopbackOptions(randomEndpoint()));
    await transport.close();
    const err = t.throws(() => transport.send([Buffer.from('late')]), { instanceOf: ClosedError });
    t.is(err?.code, 'BLIPCAST_ERR_CLOSED');
  });
}
