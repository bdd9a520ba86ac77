/**
 * The public Channel API on real sockets, on loopback only (interface
 * 127.0.0.1, TTL 0, groups in 239.255.0.0/16, random ports), with the native
 * transport ('auto' picks it when the addon loads) and with node:dgram.
 */

import test from 'ava';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { open, type Channel, type LossInfo, type Message, type OpenOptions, type TestHooks } from '../src/api/channel';
import { ClosedError } from '../src/util/errors';
import { withLoss, type LossyTransport } from '../src/transport/memory';
import type { Transport } from '../src/transport/transport';

function randomGroup(): string {
  const port = 20000 + Math.floor(Math.random() * 40000);
  return `239.255.${1 + Math.floor(Math.random() * 254)}.${1 + Math.floor(Math.random() * 254)}:${port}`;
}

function loopback(group: string, transport: 'auto' | 'dgram', extra: Partial<OpenOptions & TestHooks> = {}): Promise<Channel> {
  return open({ group, transport, interface: '127.0.0.1', ttl: 0, loopback: true, lateJoin: 'earliest', ...extra });
}

/** Resolves when `channel` knows `n` receivers (its sender heard their status), or rejects after `ms`. */
async function receiversKnown(channel: Channel, n: number, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (channel.stats().protocol.receivers < n) {
    if (Date.now() > until) throw new Error(`only ${channel.stats().protocol.receivers} receivers known after ${ms} ms`);
    await sleep(2);
  }
}

/** Writes `n` messages made by `make`, honouring back-pressure. Returns how often write() returned false. */
async function writeAll(channel: Channel, n: number, make: (i: number) => string, stream?: string): Promise<number> {
  let falses = 0;
  for (let i = 0; i < n; i++) {
    if (!channel.write(make(i), stream)) {
      falses++;
      await once(channel, 'drain');
    }
    // Yield now and then, so that messages go out in many turns (and many datagrams), as an application's would.
    if (i % 100 === 99) await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return falses;
}

async function readFrom(channel: Channel, sourceId: string, n: number): Promise<Message[]> {
  const got: Message[] = [];
  for await (const m of channel) {
    if (m.source.id !== sourceId) continue;
    got.push(m);
    if (got.length >= n) break;
  }
  return got;
}

for (const kind of ['auto', 'dgram'] as const) {
  test(`[${kind}] two channels exchange 10,000 messages each way exactly once and in order, with 2% injected receive loss`, async (t) => {
    const group = randomGroup();
    const injected: LossyTransport[] = [];
    const lossy = (seed: number) => ({
      wrapTransport: (tr: Transport) => {
        const l = withLoss(tr, { lossRate: 0.02, seed });
        injected.push(l);
        return l;
      },
    });
    // Whichever closes second waits for the acknowledgement of a peer that is already gone (a closing
    // endpoint does not announce that it stops receiving), so keep that wait short.
    const a = await loopback(group, kind, { seed: 1, lingerMs: 500, ...lossy(1) });
    const b = await loopback(group, kind, { seed: 2, lingerMs: 500, ...lossy(2) });
    t.is(a.info.transport, kind === 'auto' ? a.info.transport : 'dgram');
    t.log(`transport: ${a.info.transport}, group ${group}`);
    const losses: LossInfo[] = [];
    a.on('loss', (l) => losses.push(l));
    b.on('loss', (l) => losses.push(l));
    // Each learns of the other before the data starts, so nothing is evicted unseen.
    a.write('hello from a');
    b.write('hello from b');
    await Promise.all([receiversKnown(a, 1), receiversKnown(b, 1)]);
    const N = 10_000;
    const make = (who: string) => (i: number) => `${who} ${i} ${'.'.repeat(i % 64)}`;
    const startMs = performance.now();
    const readByB = readFrom(b, a.info.sessionId, N + 1);
    const readByA = readFrom(a, b.info.sessionId, N + 1);
    await Promise.all([writeAll(a, N, make('a')), writeAll(b, N, make('b'))]);
    const [gotB, gotA] = await Promise.all([readByB, readByA]);
    const elapsedMs = performance.now() - startMs;
    t.deepEqual(gotB.map((m) => m.data.toString()), ['hello from a', ...Array.from({ length: N }, (_, i) => make('a')(i))]);
    t.deepEqual(gotA.map((m) => m.data.toString()), ['hello from b', ...Array.from({ length: N }, (_, i) => make('b')(i))]);
    t.deepEqual(losses, []);
    const dropped = injected.reduce((sum, l) => sum + l.lossStats().dropped, 0);
    t.true(dropped > 5, `${dropped} datagrams dropped on purpose`);
    t.log(`${elapsedMs.toFixed(0)} ms; injected drops ${dropped} (own loopback copies included); repairs a ${a.stats().protocol.repairsSent}, b ${b.stats().protocol.repairsSent}; naks ${a.stats().protocol.naksSent + b.stats().protocol.naksSent}; kernel drops ${a.stats().transport.kernelDrops + b.stats().transport.kernelDrops}`);
    t.true(a.stats().protocol.repairsSent + b.stats().protocol.repairsSent > 0, 'the injected loss was repaired');
    await Promise.all([a.close(), b.close()]);
  });

  test(`[${kind}] writer() piped from a Readable delivers each chunk as one message, read with for await`, async (t) => {
    const group = randomGroup();
    const a = await loopback(group, kind, { seed: 3 });
    const b = await loopback(group, kind, { seed: 4 });
    b.subscribe('lines');
    a.write('hello', 'lines');
    await receiversKnown(a, 1);
    const N = 2000;
    const lines = Array.from({ length: N }, (_, i) => `line ${i}`);
    const reading = readFrom(b, a.info.sessionId, N + 1);
    await pipeline(Readable.from(lines.map((l) => Buffer.from(l)), { objectMode: false }), a.writer('lines'));
    const got = await reading;
    t.deepEqual(got.map((m) => m.data.toString()), ['hello', ...lines]);
    t.true(got.every((m) => m.stream === 'lines'));
    t.true(got.every((m, i) => i === 0 || m.seq > got[i - 1]!.seq));
    // The writer first: it waits for b's acknowledgements, which a closed b would no longer send.
    await a.close();
    await b.close();
  });

  test(`[${kind}] close() resolves once the receiver has everything and nobody asked for closeQuietMs, says so, is idempotent, and ends the reader`, async (t) => {
    const group = randomGroup();
    const quietMs = 300;
    const a = await loopback(group, kind, { seed: 5, closeQuietMs: quietMs });
    const b = await loopback(group, kind, { seed: 6 });
    a.write('0');
    await receiversKnown(a, 1);
    for (let i = 1; i < 500; i++) a.write(String(i));
    const startMs = performance.now();
    const closing = a.close();
    t.is(a.close(), closing);
    t.throws(() => a.write('late'), { instanceOf: ClosedError });
    const result = await closing;
    const closeMs = performance.now() - startMs;
    t.is(a.status, 'closed');
    t.true(closeMs >= quietMs && closeMs < quietMs + 1500, `close took ${closeMs.toFixed(0)} ms (quiet ${quietMs}, linger 5000)`);
    t.deepEqual(result.flushed.map((r) => r.id), [b.info.sessionId]);
    t.is(result.givenUpCount, 0);
    t.is(result.messagesPossiblyMissing, 0);
    // b had acknowledged everything, so everything is readable at b.
    const got = await readFrom(b, a.info.sessionId, 500);
    t.deepEqual(got.map((m) => m.data.toString()), Array.from({ length: 500 }, (_, i) => String(i)));
    await b.close();
    const rest: Message[] = [];
    for await (const m of b) rest.push(m); // ends: the channel is closed
    t.is(b.status, 'closed');
    t.log(`close took ${closeMs.toFixed(1)} ms`);
  });

  test(`[${kind}] await using closes the channel and its socket`, async (t) => {
    const group = randomGroup();
    let ch: Channel | undefined;
    {
      await using c = await loopback(group, kind, { seed: 7, lingerMs: 100 });
      ch = c;
      c.write('x');
    }
    t.is(ch.status, 'closed');
    t.throws(() => ch.write('y'), { instanceOf: ClosedError });
    // The port is free for a new channel on the same group right away.
    const again = await loopback(group, kind, { seed: 8 });
    await again.close();
  });
}

test('an AbortSignal closes a channel on real sockets', async (t) => {
  const controller = new AbortController();
  const ch = await loopback(randomGroup(), 'dgram', { signal: controller.signal });
  const closed = once(ch, 'close');
  controller.abort();
  await closed;
  t.is(ch.status, 'closed');
});
