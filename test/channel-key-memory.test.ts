/**
 * Encrypted channels on the simulated network (deterministic: seeded network,
 * virtual time): who can read, who can write, replays, repairs, key rotation,
 * sender authentication. The same properties on real sockets:
 * test/channel-key.test.ts.
 */

import test from 'ava';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import type { Channel, Message } from '../src/api/channel';
import { ANNOUNCE_VERIFY_BURST, ANNOUNCE_VERIFY_PER_SEC } from '../src/crypto/constants';
import { NodeAead, readCounter } from '../src/crypto/aead';
import { Announcer } from '../src/crypto/announce';
import { CounterExhaustedError, InvalidArgumentTypeError, InvalidArgumentValueError } from '../src/util/errors';
import { encodeNak } from '../src/protocol/payload';
import { MemoryNetwork } from '../src/transport/memory';
import type { Transport } from '../src/transport/transport';
import { DatagramType, encodeDatagram, HEADER_BYTES } from '../src/wire/header';
import { drive, GROUP, memory, settle } from './helpers/channel-memory';

/** Collects every message a channel delivers, from the moment it is called. */
function collect(channel: Channel): Message[] {
  const got: Message[] = [];
  void (async () => {
    for await (const m of channel) got.push(m);
  })();
  return got;
}

function texts(got: Message[], from?: Channel): string[] {
  return got.filter((m) => from === undefined || m.source.id === from.info.sessionId).map((m) => m.data.toString());
}

/** A transport wrapper that records every datagram handed to send(). */
function recording(into: Uint8Array[]): (t: Transport) => Transport {
  return (inner) => new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'send') {
        return (datagrams: readonly Uint8Array[]) => {
          for (const d of datagrams) into.push(Uint8Array.from(d));
          return target.send(datagrams);
        };
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

/** A transport wrapper that sends every batch twice (a perfect replay of everything). */
function replaying(inner: Transport): Transport {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'send') {
        return (datagrams: readonly Uint8Array[]) => {
          const n = target.send(datagrams);
          target.send(datagrams.slice(0, n).map((d) => Uint8Array.from(d)));
          return n;
        };
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

async function writeN(net: MemoryNetwork, ch: Channel, prefix: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    ch.write(`${prefix}${i}`);
    if (i % 20 === 19) await drive(net, () => false, 1);
  }
}

const expected = (prefix: string, n: number, from = 0): string[] => Array.from({ length: n - from }, (_, i) => `${prefix}${i + from}`);

test('a keyed channel delivers every message exactly once and in order under 5% loss, and every datagram sent — repairs included — has its own nonce', async (t) => {
  const net = new MemoryNetwork({ seed: 3, link: { lossRate: 0.05, delayMs: 0.5 } });
  const key = randomBytes(32);
  const sent: Uint8Array[] = [];
  const a = await memory(net, 'a', { key, wrapTransport: recording(sent) });
  const b = await memory(net, 'b', { key, lateJoin: 'earliest' });
  const got = collect(b);
  await drive(net, () => false, 50);
  await writeN(net, a, 'm', 2000);
  t.true(await drive(net, () => got.length >= 2000, 60_000), `got ${got.length}`);
  await drive(net, () => false, 500);
  t.deepEqual(texts(got), expected('m', 2000));
  t.true(a.stats().protocol.repairsSent > 0, 'the loss caused repairs');
  const nonces = new Set(sent.map((d) => `${Buffer.from(d.subarray(8, 16)).toString('hex')}/${readCounter(d, 0)}`));
  t.is(nonces.size, sent.length, 'no (session, counter) pair was used twice');
  t.true(sent.every((d) => d[5] === 1), 'every datagram sealed under key id 1');
  t.is(a.stats().crypto!.datagramsSealed, sent.length);
  t.is(b.stats().rejects.replay, 0);
  t.is(b.stats().rejects['auth-failed'], 0);
  await settle(net, Promise.all([a.close(), b.close()]));
});

test('two groups on the same address and port with different keys each deliver only their own traffic', async (t) => {
  const net = new MemoryNetwork({ seed: 4 });
  const k1 = randomBytes(32);
  const k2 = randomBytes(32);
  const a = await memory(net, 'a', { key: k1 });
  const b = await memory(net, 'b', { key: k1, lateJoin: 'earliest' });
  const c = await memory(net, 'c', { key: k2 });
  const d = await memory(net, 'd', { key: k2, lateJoin: 'earliest' });
  const gotB = collect(b);
  const gotD = collect(d);
  await drive(net, () => false, 20);
  await writeN(net, a, 'one-', 200);
  await writeN(net, c, 'two-', 200);
  t.true(await drive(net, () => gotB.length >= 200 && gotD.length >= 200, 20_000));
  await drive(net, () => false, 1000);
  t.deepEqual(texts(gotB), expected('one-', 200));
  t.deepEqual(texts(gotD), expected('two-', 200));
  t.true(b.stats().rejects['auth-failed'] > 0, 'b saw the other group and could not open it');
  t.true(d.stats().rejects['auth-failed'] > 0);
  t.is(b.stats().protocol.sources, 1, 'the other group is not even a source');
  await settle(net, Promise.all([a, b, c, d].map((ch) => ch.close())));
});

test('a receiver without the key delivers nothing and counts what it dropped', async (t) => {
  const net = new MemoryNetwork({ seed: 5 });
  const a = await memory(net, 'a', { key: randomBytes(32) });
  const clear = await memory(net, 'e', { lateJoin: 'earliest' });
  const got = collect(clear);
  await writeN(net, a, 'secret', 100);
  await drive(net, () => false, 2000);
  t.is(got.length, 0);
  t.is(clear.stats().protocol.sources, 0);
  t.true(clear.stats().rejects['keyed-on-clear'] >= 100 / 40, `${JSON.stringify(clear.stats().rejects)}`);
  await settle(net, Promise.all([a.close(), clear.close()]));
});

test('a sender without the key gets nothing delivered and cannot trigger a repair', async (t) => {
  const net = new MemoryNetwork({ seed: 6 });
  const key = randomBytes(32);
  const a = await memory(net, 'a', { key });
  const b = await memory(net, 'b', { key, lateJoin: 'earliest' });
  const intruder = await memory(net, 'x', {}); // a clear channel on the same group
  const raw = net.createTransport(net.host('y'), { group: GROUP.split(':')[0]!, port: Number(GROUP.split(':')[1]) });
  const got = collect(b);
  await writeN(net, a, 'real', 50);
  t.true(await drive(net, () => got.length >= 50));
  await writeN(net, intruder, 'forged', 50);
  // Forged NAKs for everything a sent, and a forged data datagram in a's own session.
  const [hi, lo] = [parseInt(a.info.sessionId.slice(0, 8), 16), parseInt(a.info.sessionId.slice(8), 16)];
  const nak = encodeNak({ sessionHi: 1, sessionLo: 2 }, 0, hi, lo, [{ from: 0, to: 49 }]);
  const forged = encodeDatagram({ type: DatagramType.DATA, flags: 0, keyId: 1, streamId: 0, sessionHi: hi, sessionLo: lo, sequence: 50 }, Buffer.from('forged'));
  for (let i = 0; i < 20; i++) raw.send([nak, forged]);
  await drive(net, () => false, 2000);
  t.deepEqual(texts(got), expected('real', 50));
  t.is(a.stats().protocol.naksReceived, 0);
  t.is(a.stats().protocol.repairsSent, 0);
  t.true(a.stats().rejects['clear-on-keyed'] >= 20);
  t.true(b.stats().rejects['clear-on-keyed'] >= 20);
  await settle(net, raw.close());
  await settle(net, Promise.all([a.close(), b.close(), intruder.close()]));
});

test('a replay of every datagram is dropped and counted, and nothing is delivered twice', async (t) => {
  const net = new MemoryNetwork({ seed: 7 });
  const key = randomBytes(32);
  const a = await memory(net, 'a', { key, wrapTransport: replaying });
  const b = await memory(net, 'b', { key, lateJoin: 'earliest' });
  const got = collect(b);
  await writeN(net, a, 'r', 300);
  t.true(await drive(net, () => got.length >= 300));
  await drive(net, () => false, 1000);
  t.deepEqual(texts(got), expected('r', 300));
  const rejects = b.stats().rejects;
  t.true(rejects.replay > 0);
  t.is(b.stats().protocol.duplicates, 0, 'the replays never reached the protocol');
  await settle(net, Promise.all([a.close(), b.close()]));
});

test('key rotation: the previous key is accepted for the grace period, rejected after, and what was rejected is repaired once the sender rotates too', async (t) => {
  const net = new MemoryNetwork({ seed: 8 });
  const k1 = randomBytes(32);
  const k2 = randomBytes(32);
  const a = await memory(net, 'a', { key: k1, lingerMs: 0 });
  const b = await memory(net, 'b', { key: k1, keyGraceMs: 500, lateJoin: 'earliest' });
  const got = collect(b);
  await writeN(net, a, 'k', 10);
  t.true(await drive(net, () => got.length >= 10));
  b.rotateKey({ id: 2, key: k2 });
  await writeN(net, a, 'g', 20);
  t.true(await drive(net, () => got.length >= 30, 400), 'old key accepted during the grace period');
  t.deepEqual(texts(got), [...expected('k', 10), ...expected('g', 20)]);
  await drive(net, () => false, 600);
  const before = b.stats().rejects['unknown-key'];
  await writeN(net, a, 'late', 10);
  await drive(net, () => false, 300);
  t.is(got.length, 30, 'nothing under the old key after the grace period');
  t.true(b.stats().rejects['unknown-key'] > before);
  a.rotateKey({ id: 2, key: k2 });
  await writeN(net, a, 'new', 10);
  t.true(await drive(net, () => got.length >= 50, 10_000), `got ${got.length}`);
  t.deepEqual(texts(got).slice(30), [...expected('late', 10), ...expected('new', 10)], 'the rejected messages were repaired under the new key, in order');
  t.is(a.stats().crypto!.keyId, 2);
  t.throws(() => a.rotateKey({ id: 2, key: k1 }), { instanceOf: InvalidArgumentValueError });
  await settle(net, Promise.all([a.close(), b.close()]));
});

test('with trustedKeys only sessions signed by a trusted key are delivered; data that arrives before the announcement is held, then delivered', async (t) => {
  const net = new MemoryNetwork({ seed: 9 });
  const key = randomBytes(32);
  const trusted = generateKeyPairSync('ed25519');
  const other = generateKeyPairSync('ed25519');
  const b = await memory(net, 'b', { key, trustedKeys: [trusted.publicKey], lateJoin: 'earliest' });
  const got = collect(b);
  const a = await memory(net, 'a', { key, signingKey: trusted.privateKey });
  const m = await memory(net, 'm', { key, signingKey: other.privateKey.export({ format: 'pem', type: 'pkcs8' }) });
  const n = await memory(net, 'n', { key });
  await writeN(net, a, 'a', 20);
  await writeN(net, m, 'm', 20);
  await writeN(net, n, 'n', 20);
  t.true(await drive(net, () => got.length >= 20));
  await drive(net, () => false, 4000);
  t.deepEqual(texts(got), expected('a', 20));
  const r = b.stats().rejects;
  t.true(r['untrusted-signer'] > 0, 'm announced with a key b does not trust');
  t.true(r.unverified > 0, 'the data of m and n was dropped once the hold time passed');
  t.is(b.stats().crypto!.sessionsVerified, 1);
  t.is(b.stats().crypto!.bytesHeld, 0);

  // A receiver that joins after the announcement holds the data until the next one (ANNOUNCE_INTERVAL_MS), then delivers all of it.
  const late = await memory(net, 'late', { key, trustedKeys: [trusted.publicKey], lateJoin: 'earliest' });
  const gotLate = collect(late);
  await writeN(net, a, 'b', 10);
  await drive(net, () => false, 100);
  t.is(gotLate.length, 0, 'held: no announcement yet');
  t.true(late.stats().crypto!.datagramsHeld! > 0);
  t.true(await drive(net, () => gotLate.length >= 30, 3000));
  t.deepEqual(texts(gotLate), [...expected('a', 20), ...expected('b', 10)]);
  await settle(net, Promise.all([a, b, m, n, late].map((ch) => ch.close())));
});

test('a channel with trustedKeys never holds its own looped-back datagrams, even when its own key is not trusted', async (t) => {
  const net = new MemoryNetwork({ seed: 12 });
  const key = randomBytes(32);
  const self = await memory(net, 'self', { key, signingKey: generateKeyPairSync('ed25519').privateKey, trustedKeys: [generateKeyPairSync('ed25519').publicKey] });
  const peer = await memory(net, 'peer', { key, lateJoin: 'earliest' });
  const got = collect(peer);
  await writeN(net, self, 's', 50);
  t.true(await drive(net, () => got.length >= 50));
  await drive(net, () => false, 3000);
  t.is(self.stats().crypto!.datagramsHeld, 0);
  t.is(self.stats().rejects.unverified, 0);
  await settle(net, Promise.all([self.close(), peer.close()]));
});

test('a key holder flooding forged announcements costs a receiver at most its verification budget, verified senders keep delivering, and a new trusted sender verifies once the flood stops', async (t) => {
  const net = new MemoryNetwork({ seed: 13 });
  const key = randomBytes(32);
  const trusted = generateKeyPairSync('ed25519');
  const b = await memory(net, 'b', { key, trustedKeys: [trusted.publicKey], lateJoin: 'earliest' });
  const got = collect(b);
  const a = await memory(net, 'a', { key, signingKey: trusted.privateKey });
  await writeN(net, a, 'a', 20);
  t.true(await drive(net, () => got.length >= 20));

  // The insider: it holds the group key (its datagrams open) and names the trusted public key over bad signatures, a fresh session each time.
  const insider = new NodeAead();
  insider.setKey(1, key);
  const raw = net.createTransport(net.host('x'), { group: GROUP.split(':')[0]!, port: Number(GROUP.split(':')[1]) });
  const FLOOD = 6000;
  const floodMs = 3000;
  const checkedBefore = b.stats().crypto!.announcementsChecked!;
  const startMs = net.nowMs();
  for (let i = 0; i < FLOOD; i += 20) {
    const batch: Uint8Array[] = [];
    for (let j = i; j < i + 20; j++) {
      const clear = Buffer.from(new Announcer(trusted.privateKey, 0x0bad0000, j).poll(0, 1)!);
      clear[HEADER_BYTES + 40]! ^= 1;
      batch.push(...insider.sealBatch(1, 0, [clear]));
    }
    raw.send(batch);
    if (i % 200 === 0) a.write(`during${i / 200}`);
    await drive(net, () => false, floodMs / (FLOOD / 20));
  }
  const elapsedS = (net.nowMs() - startMs) / 1000;
  await drive(net, () => false, 200);
  const c = b.stats().crypto!;
  t.log(`${FLOOD} forged announcements over ${elapsedS.toFixed(1)} s of virtual time: ${c.announcementsChecked! - checkedBefore} checked, ${c.announcementsLimited} limited`);
  t.true(c.announcementsChecked! - checkedBefore <= ANNOUNCE_VERIFY_BURST + ANNOUNCE_VERIFY_PER_SEC * elapsedS + 1, `checked ${c.announcementsChecked! - checkedBefore}`);
  t.true(c.announcementsLimited! >= FLOOD - ANNOUNCE_VERIFY_BURST - ANNOUNCE_VERIFY_PER_SEC * elapsedS - 1);
  t.is(c.sessionsVerified, 1, 'no forged session verified');
  t.deepEqual(texts(got), [...expected('a', 20), ...expected('during', FLOOD / 200)], 'the verified sender kept delivering through the flood');

  // The flood is over: a sender that starts now verifies (within its announcement interval) and is delivered.
  const n = await memory(net, 'n', { key, signingKey: trusted.privateKey });
  await writeN(net, n, 'n', 10);
  t.true(await drive(net, () => texts(got, n).length >= 10, 5000), `got ${texts(got, n).length} of n`);
  t.deepEqual(texts(got, n), expected('n', 10));
  await settle(net, raw.close());
  await settle(net, Promise.all([a, b, n].map((ch) => ch.close())));
});

test('open() checks the key options and opens nothing when one is bad', async (t) => {
  const net = new MemoryNetwork({ seed: 10 });
  await t.throwsAsync(memory(net, 'a', { key: 'abc' as never }), { instanceOf: InvalidArgumentTypeError, message: /options\.key/ });
  await t.throwsAsync(memory(net, 'a', { key: randomBytes(31) }), { instanceOf: InvalidArgumentValueError, message: /32 bytes/ });
  await t.throwsAsync(memory(net, 'a', { key: { id: 0, key: randomBytes(32) } }), { instanceOf: InvalidArgumentValueError });
  await t.throwsAsync(memory(net, 'a', { trustedKeys: [generateKeyPairSync('ed25519').publicKey] }), { instanceOf: InvalidArgumentValueError, message: /needs options\.key/ });
  await t.throwsAsync(memory(net, 'a', { key: randomBytes(32), signingKey: generateKeyPairSync('ed25519').publicKey }), { instanceOf: InvalidArgumentValueError, message: /private/ });
  await t.throwsAsync(memory(net, 'a', { key: randomBytes(32), signingKey: 42 as never }), { instanceOf: InvalidArgumentTypeError });
  await t.throwsAsync(memory(net, 'a', { key: randomBytes(32), trustedKeys: [] }), { instanceOf: InvalidArgumentValueError });
  await t.throwsAsync(memory(net, 'a', { key: randomBytes(32), keyGraceMs: -1 }), { instanceOf: InvalidArgumentValueError });
  const clear = await memory(net, 'c');
  t.throws(() => clear.rotateKey(randomBytes(32)), { instanceOf: InvalidArgumentValueError });
  t.is(clear.stats().crypto, undefined);
  await settle(net, clear.close());
});

test('a keyed channel with a seed still gets a random session id (a repeated session id would repeat nonces)', async (t) => {
  const net = new MemoryNetwork({ seed: 11 });
  const key = randomBytes(32);
  const a = await memory(net, 'same', { key });
  const b = await memory(net, 'same', { key });
  const c = await memory(net, 'same');
  const d = await memory(net, 'same');
  t.not(a.info.sessionId, b.info.sessionId);
  t.is(c.info.sessionId, d.info.sessionId, 'clear channels keep the seeded id');
  await settle(net, Promise.all([a, b, c, d].map((ch) => ch.close())));
});

test('a sender whose datagram counter runs out says so once as an error, then write() throws CounterExhaustedError and nothing more leaves', async (t) => {
  const net = new MemoryNetwork({ seed: 'counter-end', link: { delayMs: 0.2 } });
  const key = randomBytes(32);
  const rx = await memory(net, 'rx', { key, lateJoin: 'earliest' });
  const tx = await memory(net, 'tx', { key });
  const errors: Error[] = [];
  tx.on('error', (err) => errors.push(err));
  const got: string[] = [];
  rx.readable.on('data', (m: Message) => got.push(m.data.toString()));
  tx.write('one');
  t.true(await drive(net, () => got.length === 1, 5_000));
  // Reach into the channel: use up the counter instead of sealing 2^48 datagrams.
  (tx as unknown as { sealed: { crypto: { counter: number } } }).sealed.crypto.counter = 2 ** 48;
  tx.write('unsent');
  t.true(await drive(net, () => errors.length > 0, 5_000), 'the sender reports the exhausted counter');
  t.true(errors[0] instanceof CounterExhaustedError);
  t.is(errors.length, 1);
  const sent = tx.stats().transport.datagramsSent;
  t.throws(() => tx.write('two'), { instanceOf: CounterExhaustedError, code: 'BLIPCAST_ERR_COUNTER_EXHAUSTED' } as never);
  await drive(net, () => false, 2_000);
  t.is(tx.stats().transport.datagramsSent, sent, 'nothing more leaves');
  t.deepEqual(got, ['one']);
  // 'unsent' is never acknowledged, and nothing can be sent any more: close() does not linger for it.
  const before = net.nowMs();
  await settle(net, tx.close());
  t.true(net.nowMs() - before < 1000, `close took ${net.nowMs() - before} ms of virtual time`);
  await settle(net, rx.close());
});
