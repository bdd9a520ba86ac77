/**
 * Encrypted channels on real sockets (loopback only: interface 127.0.0.1,
 * TTL 0, 239.255.0.0/16, random ports), on the native transport and on
 * node:dgram. Run by test/channel-key.test.ts (the addon's batch AES-GCM) and
 * test/channel-key-nodecrypto.test.ts (node:crypto, as without the addon).
 */

import type { TestFn } from 'ava';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { open, type Channel, type Message, type OpenOptions, type TestHooks } from '../src/api/channel';

function randomGroup(): string {
  const port = 20000 + Math.floor(Math.random() * 40000);
  return `239.255.${1 + Math.floor(Math.random() * 254)}.${1 + Math.floor(Math.random() * 254)}:${port}`;
}

function loopback(group: string, transport: 'auto' | 'dgram', extra: Partial<OpenOptions & TestHooks> = {}): Promise<Channel> {
  return open({ group, transport, interface: '127.0.0.1', ttl: 0, loopback: true, lateJoin: 'earliest', lingerMs: 200, ...extra });
}

function collect(channel: Channel): Message[] {
  const got: Message[] = [];
  void (async () => {
    for await (const m of channel) got.push(m);
  })();
  return got;
}

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) return false;
    await sleep(5);
  }
  return true;
}

async function writeN(ch: Channel, prefix: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    ch.write(`${prefix}${i}`);
    if (i % 50 === 49) await sleep(1);
  }
}

const texts = (got: Message[]): string[] => got.map((m) => m.data.toString());
const expected = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

/** Registers the suite for `backend` ('native' or 'node': which AES-GCM implementation the channels must report). */
export function keySuite(test: TestFn, backend: 'native' | 'node'): void {
  for (const kind of ['auto', 'dgram'] as const) {
    test(`[${kind}, ${backend} AES-GCM] two groups on the same address and port with different keys each deliver only their own traffic`, async (t) => {
      const group = randomGroup();
      const k1 = randomBytes(32);
      const k2 = randomBytes(32);
      const [a, b, c, d] = await Promise.all([
        loopback(group, kind, { key: k1 }), loopback(group, kind, { key: k1 }),
        loopback(group, kind, { key: { id: 1, key: k2 } }), loopback(group, kind, { key: k2 }),
      ]);
      const clear = await loopback(group, kind);
      const gotB = collect(b!);
      const gotD = collect(d!);
      const gotClear = collect(clear);
      await writeN(a!, 'one-', 500);
      await writeN(c!, 'two-', 500);
      t.true(await until(() => gotB.length >= 500 && gotD.length >= 500, 10_000), `b ${gotB.length}, d ${gotD.length}`);
      await sleep(200);
      t.deepEqual(texts(gotB), expected('one-', 500));
      t.deepEqual(texts(gotD), expected('two-', 500));
      t.is(gotClear.length, 0, 'a receiver without a key delivers nothing');
      t.true(b!.stats().rejects['auth-failed'] > 0);
      t.true(clear.stats().rejects['keyed-on-clear'] > 0);
      t.is(b!.stats().crypto!.backend, backend);
      t.is(a!.info.transport, kind === 'auto' ? 'native' : 'dgram');
      await Promise.all([a, b, c, d, clear].map((ch) => ch!.close()));
    });

    test(`[${kind}, ${backend} AES-GCM] a clear sender gets nothing delivered to a keyed receiver`, async (t) => {
      const group = randomGroup();
      const key = randomBytes(32);
      const b = await loopback(group, kind, { key });
      const x = await loopback(group, kind);
      const got = collect(b);
      await writeN(x, 'forged', 200);
      await sleep(300);
      t.is(got.length, 0);
      t.true(b.stats().rejects['clear-on-keyed'] > 0);
      t.is(x.stats().protocol.receivers, 0, 'the keyed receiver never answered the clear sender');
      await Promise.all([b.close(), x.close()]);
    });

    test(`[${kind}, ${backend} AES-GCM] key rotation: the old key is accepted during the grace period and rejected after it`, async (t) => {
      const group = randomGroup();
      const k1 = randomBytes(32);
      const k2 = randomBytes(32);
      const a = await loopback(group, kind, { key: k1, lingerMs: 0 });
      const graceMs = 1000;
      const b = await loopback(group, kind, { key: k1, keyGraceMs: graceMs });
      const got = collect(b);
      await writeN(a, 'k', 50);
      t.true(await until(() => got.length >= 50, 5000));
      b.rotateKey({ id: 7, key: k2 });
      const rotatedAt = Date.now();
      await writeN(a, 'g', 50);
      t.true(await until(() => got.length >= 100, graceMs * 0.8), 'accepted during the grace period');
      await sleep(rotatedAt + graceMs + 50 - Date.now());
      const before = b.stats().rejects['unknown-key'];
      await writeN(a, 'x', 50);
      await sleep(200);
      t.is(got.length, 100, 'nothing under the old key after the grace period');
      t.true(b.stats().rejects['unknown-key'] > before);
      a.rotateKey({ id: 7, key: k2 });
      await writeN(a, 'n', 50);
      t.true(await until(() => got.length >= 200, 5000), `got ${got.length}`);
      t.deepEqual(texts(got), [...expected('k', 50), ...expected('g', 50), ...expected('x', 50), ...expected('n', 50)]);
      await Promise.all([a.close(), b.close()]);
    });

    test(`[${kind}, ${backend} AES-GCM] with trustedKeys only the session signed by a trusted key is delivered`, async (t) => {
      const group = randomGroup();
      const key = randomBytes(32);
      const trusted = generateKeyPairSync('ed25519');
      const b = await loopback(group, kind, { key, trustedKeys: [trusted.publicKey] });
      const got = collect(b);
      const a = await loopback(group, kind, { key, signingKey: trusted.privateKey });
      const m = await loopback(group, kind, { key, signingKey: generateKeyPairSync('ed25519').privateKey });
      await writeN(a, 'a', 100);
      await writeN(m, 'm', 100);
      t.true(await until(() => got.length >= 100, 5000));
      await sleep(200);
      t.deepEqual(texts(got), expected('a', 100));
      t.true(b.stats().rejects['untrusted-signer'] > 0);
      await Promise.all([a.close(), b.close(), m.close()]);
    });
  }
}
