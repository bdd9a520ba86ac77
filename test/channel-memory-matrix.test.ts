/**
 * Exactly-once, in-order delivery through the public API on the memory
 * transport, for 1, 10 and 100 receivers at 0, 1, 5 and 20 % random loss on
 * every receiving link (seeded: the same run every time).
 */

import test from 'ava';
import type { Channel, LossInfo, Message } from '../src/api/channel';
import { MemoryNetwork } from '../src/transport/memory';
import { drive, memory, readN, settle } from './helpers/channel-memory';

function payload(i: number): Buffer {
  return Buffer.from(`m${i}:${'abcdefghij'.repeat(i % 7)}`);
}

for (const receivers of [1, 10, 100]) {
  for (const lossRate of [0, 0.01, 0.05, 0.2]) {
    const count = receivers === 100 ? 300 : 2000;
    test(`${receivers} receiver(s) at ${lossRate * 100}% loss get all ${count} messages exactly once and in order`, async (t) => {
      const net = new MemoryNetwork({ seed: `matrix-${receivers}-${lossRate}`, link: { lossRate, delayMs: 0.2, jitterMs: 0.1 } });
      const rx: Channel[] = [];
      for (let i = 0; i < receivers; i++) rx.push(await memory(net, `r${i}`, { lateJoin: 'earliest' }));
      const tx = await memory(net, 'sender');
      const losses: LossInfo[] = [];
      for (const r of rx) r.on('loss', (l) => losses.push(l));
      const got: Message[][] = rx.map(() => []);
      const readers = rx.map((r, i) => readN(r, count, got[i]!));
      const writer = (async () => {
        for (let i = 0; i < count; i++) {
          if (!tx.write(payload(i))) await new Promise<void>((resolve) => tx.once('drain', resolve));
          if (i % 50 === 49) await new Promise<void>((resolve) => setImmediate(resolve));
        }
      })();
      const done = await drive(net, () => got.every((g) => g.length >= count), 120_000);
      await writer;
      await Promise.all(readers);
      t.true(done, `received ${got.map((g) => g.length).join(',')}`);
      t.deepEqual(losses, []);
      for (const g of got) {
        t.is(g.length, count);
        const bad = g.findIndex((m, i) => m.seq !== i || !m.data.equals(payload(i)) || m.source.id !== tx.info.sessionId);
        t.is(bad, -1, `first wrong message at ${bad}`);
      }
      const s = tx.stats().protocol;
      t.log(`virtual ${net.nowMs().toFixed(0)} ms; link drops ${net.totalLinkStats().dropped}; NAKs at sender ${s.naksReceived}, repairs ${s.repairsSent}`);
      // Jitter reorders datagrams, so even 0 % loss may cost a repair or two; real loss must be repaired.
      if (net.totalLinkStats().dropped > 0) t.true(s.repairsSent > 0);
      await settle(net, Promise.all([tx.close(), ...rx.map((r) => r.close())]));
    });
  }
}

test('a sender that writes a burst and closes at once waits for every receiver, not only the first it heard', async (t) => {
  const net = new MemoryNetwork({ seed: 'burst-close', link: { lossRate: 0.05, delayMs: 0.2 } });
  const rx: Channel[] = [];
  for (let i = 0; i < 3; i++) rx.push(await memory(net, `r${i}`, { lateJoin: 'earliest' }));
  const tx = await memory(net, 'sender');
  const losses: LossInfo[] = [];
  for (const r of rx) r.on('loss', (l) => losses.push(l));
  const got: Message[][] = rx.map(() => []);
  const readers = rx.map((r, i) => readN(r, 3000, got[i]!));
  for (let i = 0; i < 3000; i++) tx.write(payload(i));
  await settle(net, tx.close());
  await settle(net, Promise.all(readers), 10_000);
  t.deepEqual(losses, []);
  t.deepEqual(got.map((g) => g.length), [3000, 3000, 3000]);
  await settle(net, Promise.all(rx.map((r) => r.close())));
});
