/**
 * channel.receivers() and channel.sources() (docs/api.md, "Health") on the
 * simulated network: a lossy receiver shows its NAKs, repairs and repair
 * latency at both ends; a cut-off receiver holds the 'min' window, then is
 * dropped with its reason; a passive observer sees every receiver of every
 * source and never holds a sender back.
 */

import test from 'ava';
import { once } from 'node:events';
import type { Channel, Message } from '../src/index';
import { MemoryNetwork } from '../src/transport/memory';
import { drive, memory, readN, settle } from './helpers/channel-memory';

async function writeN(ch: Channel, n: number, size = 100): Promise<void> {
  for (let i = 0; i < n; i++) {
    if (!ch.write(Buffer.alloc(size, i & 0xff))) await once(ch, 'drain');
    if (i % 20 === 19) await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

test('a lossy receiver: the sender sees its NAKs, the repairs sent for it and its own report; the receiver sees the same from its side', async (t) => {
  const net = new MemoryNetwork({ seed: 7, link: { delayMs: 0.5 } });
  const a = await memory(net, 'a', { member: { name: 'sender' } });
  const b = await memory(net, 'b', { member: { name: 'clean' } });
  const c = await memory(net, 'c', { member: { name: 'lossy' } });
  net.setLink('a', 'c', { lossRate: 0.1, delayMs: 0.5 });
  t.true(await drive(net, () => [a, b, c].every((ch) => ch.group!.members().length === 3), 10_000));
  const N = 3000;
  const gotB: Message[] = [];
  const gotC: Message[] = [];
  const readers = [readN(b, N, gotB), readN(c, N, gotC)];
  const writer = writeN(a, N);
  t.true(await drive(net, () => gotB.length >= N && gotC.length >= N, 60_000), `b ${gotB.length}, c ${gotC.length}`);
  await writer;
  await Promise.all(readers);
  // Two status intervals: the last reports (with nothing missing) reach the sender.
  await drive(net, () => false, 500);

  const rx = a.receivers();
  const byName = new Map(rx.map((r) => [r.name, r]));
  t.deepEqual([...byName.keys()].sort(), ['clean', 'lossy']);
  const lossy = byName.get('lossy')!;
  const clean = byName.get('clean')!;
  t.is(lossy.sourceId, a.info.sessionId);
  t.is(lossy.state, 'live');
  t.is(lossy.lagMessages, 0, 'caught up');
  t.is(lossy.lagBytes, 0);
  t.true(lossy.naks > 0, `naks ${lossy.naks}`);
  t.true(lossy.repairsSent! > 0, `repairs sent ${lossy.repairsSent}`);
  t.is(clean.naks, 0);
  t.truthy(lossy.report, 'its STATUS carries a health report');
  t.true(lossy.report!.naksSent >= lossy.naks, `it says it sent ${lossy.report!.naksSent} NAKs; ${lossy.naks} arrived`);
  t.true(lossy.report!.repairsReceived > 0);
  t.is(lossy.report!.messagesLost, 0);
  t.is(lossy.report!.gapsOpen, 0);
  t.true(lossy.report!.repairLatencyMs! > 0, `repair latency ${lossy.report!.repairLatencyMs} ms`);
  t.is(clean.report!.repairLatencyMs, undefined, 'nothing repaired, nothing timed');
  t.true(lossy.member && clean.member);

  const [src] = c.sources();
  t.is(src!.source.id, a.info.sessionId);
  t.is(src!.name, 'sender', JSON.stringify(c.group!.members()));
  t.is(src!.messages, N);
  t.true(src!.naksSent > 0 && src!.repairsReceived > 0, `naks ${src!.naksSent}, repairs ${src!.repairsReceived}`);
  t.is(src!.gapsOpen, 0);
  t.is(src!.lagMessages, 0);
  t.is(src!.messagesLost, 0);
  t.true(src!.repairLatencyMs! > 0);
  t.is(src!.groupSize, 2, 'c knows b receives from a too');
  const [fromB] = b.sources();
  t.is(fromB!.naksSent, 0);
  t.is(fromB!.repairLatencyMs, undefined);
  await settle(net, Promise.all([a.close(), b.close(), c.close()]));
});

test('rates: a second call a second later gives messages and bytes per second', async (t) => {
  const net = new MemoryNetwork({ seed: 3, link: { delayMs: 0.5 } });
  const a = await memory(net, 'a');
  const b = await memory(net, 'b');
  b.on('messages', () => undefined);
  // 100 messages of 50 bytes every 10 ms: 10,000 messages/s.
  let first: number | undefined;
  for (let step = 0; step < 300; step++) {
    for (let i = 0; i < 100; i++) a.write(Buffer.alloc(50));
    await drive(net, () => false, 10);
    if (step === 100) b.sources();
    if (step === 200) first = b.sources()[0]!.messagesPerSec;
  }
  const [s] = b.sources();
  t.true(first! > 9_000 && first! < 11_000, `${first} msgs/s`);
  t.true(s!.messagesPerSec > 9_000 && s!.messagesPerSec < 11_000, `${s!.messagesPerSec} msgs/s`);
  t.true(s!.bytesPerSec > s!.messagesPerSec * 50, `${s!.bytesPerSec} B/s`);
  await settle(net, Promise.all([a.close(), b.close()]));
});

test("a receiver cut off holds the 'min' window, then is dropped ('timeout') and stays listed as dropped", async (t) => {
  const net = new MemoryNetwork({ seed: 11, link: { delayMs: 0.5 } });
  const a = await memory(net, 'a', { windowBytes: 256 * 1024, receiverTimeoutMs: 2000 } as never);
  const b = await memory(net, 'b');
  const c = await memory(net, 'c');
  for (const ch of [b, c]) ch.on('messages', () => undefined);
  a.write('hello');
  t.true(await drive(net, () => a.receivers().length === 2, 5000));
  net.setLink('c', 'a', { lossRate: 1 });
  net.setLink('a', 'c', { lossRate: 1 });
  const cId = c.info.sessionId;
  let held = false;
  const writer = (async () => {
    for (let i = 0; i < 5000; i++) if (!a.write(Buffer.alloc(1000))) await once(a, 'drain');
  })();
  await drive(net, () => {
    const r = a.receivers().find((x) => x.receiver.id === cId);
    const rb = a.receivers().find((x) => x.receiver.id === b.info.sessionId);
    if (r?.holdsWindow && r.lagMessages > 0 && r.lagBytes! > 0 && rb?.holdsWindow === false) held = true;
    return held;
  }, 1900);
  t.true(held, `c held the window, b did not: ${JSON.stringify(a.receivers())}`);
  t.is(a.receivers().find((x) => x.receiver.id === b.info.sessionId)!.lagMessages, 0);
  t.true(await drive(net, () => a.receivers().find((x) => x.receiver.id === cId)?.state === 'dropped', 5000));
  const dropped = a.receivers().find((x) => x.receiver.id === cId)!;
  t.is(dropped.dropReason, 'timeout');
  t.false(dropped.holdsWindow);
  await drive(net, () => false, 100);
  net.heal();
  await Promise.race([writer, drive(net, () => false, 30_000)]);
  await settle(net, Promise.all([a.close(), b.close(), c.close()]));
});

test('a passive observer lists every receiver of every source, is marked observer, and never holds a sender back', async (t) => {
  const net = new MemoryNetwork({ seed: 5, link: { delayMs: 0.5 } });
  const a = await memory(net, 'a', { member: { name: 'a' } });
  const b = await memory(net, 'b', { member: { name: 'b' } });
  const c = await memory(net, 'c', { member: { name: 'c' } });
  const top = await memory(net, 'top', { member: { name: 'top' }, passive: true });
  net.setLink('a', 'c', { lossRate: 0.05, delayMs: 0.5 });
  t.true(await drive(net, () => [a, b, c, top].every((ch) => ch.group!.members().length === 4), 10_000));
  t.true(a.group!.members().find((m) => m.name === 'top')!.observer);
  t.false(a.group!.members().find((m) => m.name === 'b')!.observer);
  t.true(top.group!.self.observer);
  const N = 2000;
  const gotB: Message[] = [];
  const gotC: Message[] = [];
  const gotA: Message[] = [];
  // top never reads: a passive channel that held the window would stall everything.
  void readN(b, 2 * N, gotB);
  void readN(c, 2 * N, gotC);
  void readN(a, N, gotA);
  const writers = [writeN(a, N), writeN(b, N)];
  const done = await drive(net, () => gotB.length >= N && gotC.length >= 2 * N && gotA.length >= N, 60_000);
  t.true(done, `b ${gotB.length}, c ${gotC.length}, a ${gotA.length}: ${JSON.stringify(a.receivers())}`);
  if (!done) return;
  await Promise.all(writers);
  await drive(net, () => false, 500);
  t.false(a.receivers().some((r) => r.name === 'top'), 'a never counted top as a receiver');
  t.is(top.stats().protocol.statusSent, 0);
  t.is(top.stats().protocol.naksSent, 0);
  const seen = top.receivers();
  const pairs = seen.map((r) => `${r.name}<-${r.sourceId === a.info.sessionId ? 'a' : r.sourceId === b.info.sessionId ? 'b' : '?'}`).sort();
  t.deepEqual(pairs, ['a<-b', 'b<-a', 'c<-a', 'c<-b']);
  const cFromA = seen.find((r) => r.name === 'c' && r.sourceId === a.info.sessionId)!;
  t.true(cFromA.naks > 0, `overheard ${cFromA.naks} NAKs from c`);
  t.true(cFromA.report!.repairsReceived > 0);
  t.is(cFromA.lagMessages, 0);
  t.is(cFromA.lagBytes, undefined);
  t.is(cFromA.repairsSent, undefined);
  const srcs = top.sources().map((s) => s.name).sort();
  t.deepEqual(srcs, ['a', 'b']);
  await settle(net, Promise.all([a.close(), b.close(), c.close(), top.close()]));
});

test('passive must be a boolean', async (t) => {
  const net = new MemoryNetwork({ seed: 1 });
  await t.throwsAsync(memory(net, 'a', { passive: 'yes' as never }), { code: 'BLIPCAST_ERR_INVALID_ARG_TYPE', message: /passive/ });
});
