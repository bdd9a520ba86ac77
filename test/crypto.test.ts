/**
 * The AES-256-GCM layer on its own: the addon's batch seal/open against
 * node:crypto byte for byte, tampering, the replay window, counter
 * exhaustion, key checks. (Channels with keys: test/channel-key*.test.ts.)
 */

import test from 'ava';
import { createDecipheriv, randomBytes } from 'node:crypto';
import { createNativeAead, NodeAead, nonceOf, readCounter, type AeadBackend } from '../src/crypto/aead';
import { DECODED_WORDS } from '../src/wire/decode';
import { SealedReject } from '../src/wire/rejects';
import { GroupCrypto } from '../src/crypto/group-crypto';
import { checkGroupKey, parseKeyBytes } from '../src/crypto/key';
import { ReplayWindow, ReplayTable } from '../src/crypto/replay-window';
import { CounterExhaustedError, InvalidArgumentTypeError, InvalidArgumentValueError } from '../src/util/errors';
import { DatagramType, encodeDatagram, HEADER_BYTES } from '../src/wire/header';
import { decodeHeader } from '../src/wire/decode';
import { Reject } from '../src/wire/rejects';

const native = createNativeAead();
const backends: Array<[string, () => AeadBackend]> = [['node', () => new NodeAead()]];
if (native) backends.unshift(['native', () => createNativeAead()!]);

test('the addon is built with the AES-GCM keyring (the native path is what these tests check)', (t) => {
  t.truthy(native, 'native AeadKeyring missing: run npm run build:native');
});

function clearDatagram(size: number, seq = 7, sessionLo = 0x01020304): Buffer {
  const payload = randomBytes(size);
  return encodeDatagram({ type: DatagramType.DATA, flags: 0, keyId: 0, streamId: 3, sessionHi: 0xa1b2c3d4, sessionLo, sequence: seq }, payload);
}

/** Opens one datagram (a copy) with `b`; returns the code, the decoded words and the opened bytes. */
function openOne(b: AeadBackend, sealed: Uint8Array): { code: number; words: Uint32Array; bytes: Buffer } {
  const bytes = Buffer.from(sealed);
  const words = new Uint32Array(DECODED_WORDS);
  b.openBatch(bytes, new Uint32Array([0]), new Uint32Array([bytes.length]), 1, words);
  return { code: words[0]!, words, bytes };
}

test('native and node:crypto seal to the same bytes, and each opens what the other sealed', (t) => {
  if (!native) return t.fail('no addon');
  const key = randomBytes(32);
  const n = createNativeAead()!;
  const j = new NodeAead();
  n.setKey(9, key);
  j.setKey(9, key);
  const inputs = [0, 1, 64, 1024, 1400].map((size, i) => clearDatagram(size, i));
  const counter = 2 ** 40 + 12345; // above 2^32: exercises the counter bits in the reserved field
  const a = n.sealBatch(9, counter, inputs);
  const b = j.sealBatch(9, counter, inputs);
  t.is(a.length, inputs.length);
  for (let i = 0; i < inputs.length; i++) {
    t.deepEqual(Buffer.from(a[i]!), Buffer.from(b[i]!), `datagram ${i}`);
    t.is(a[i]!.length, inputs[i]!.length + 16);
    t.is(readCounter(a[i]!, 0), counter + i);
    t.is(a[i]![5], 9, 'key id in header byte 5');
    for (const [from, to] of [[n, j], [j, n]] as const) {
      const r = openOne(to, from === n ? a[i]! : b[i]!);
      t.is(r.code, Reject.OK);
      t.is(r.words[7], inputs[i]!.length - HEADER_BYTES, 'plaintext length');
      t.deepEqual(r.bytes.subarray(HEADER_BYTES, inputs[i]!.length), inputs[i]!.subarray(HEADER_BYTES));
      t.is(r.words[2], 3);
      t.is(r.words[4], 0x01020304);
      t.is(r.words[6], i);
    }
  }
  // The clear input is left untouched (the send window keeps it for repairs).
  t.is(decodeHeader(inputs[2]!).ok, true);
});

test('node:crypto with the documented nonce and associated data opens a native-sealed datagram (the wire format is what docs/protocol.md says)', (t) => {
  if (!native) return t.fail('no addon');
  const key = randomBytes(32);
  const n = createNativeAead()!;
  n.setKey(1, key);
  const input = clearDatagram(100);
  const [sealed] = n.sealBatch(1, 5, [input]);
  const s = Buffer.from(sealed!);
  const nonce = Buffer.concat([s.subarray(8, 16), s.subarray(28, 32)]);
  nonce[0]! ^= s[26]!;
  nonce[1]! ^= s[27]!;
  t.deepEqual(nonceOf(s, 0), nonce);
  t.is(s.readUInt16BE(24), 100 + 16, 'payload length counts ciphertext and tag');
  const d = createDecipheriv('aes-256-gcm', key, nonce);
  d.setAAD(s.subarray(0, 32));
  d.setAuthTag(s.subarray(s.length - 16));
  const clear = Buffer.concat([d.update(s.subarray(32, s.length - 16)), d.final()]);
  t.deepEqual(clear, input.subarray(32));
});

for (const [name, make] of backends) {
  test(`[${name}] changing any single byte of a sealed datagram gets it rejected`, (t) => {
    const b = make();
    b.setKey(1, randomBytes(32));
    const [sealed] = b.sealBatch(1, 77, [clearDatagram(40)]);
    t.is(openOne(b, sealed!).code, Reject.OK);
    for (let i = 0; i < sealed!.length; i++) {
      const bad = Buffer.from(sealed!);
      bad[i]! ^= 0x01 << (i % 8);
      const { code } = openOne(b, bad);
      t.not(code, Reject.OK, `byte ${i}`);
    }
    // Bytes that name the format or key fail the cheap checks; the rest fail authentication.
    const flip = (i: number): number => {
      const bad = Buffer.from(sealed!);
      bad[i]! ^= 0x80;
      return openOne(b, bad).code;
    };
    t.is(flip(0), Reject.BAD_MAGIC);
    t.is(flip(5), SealedReject.UNKNOWN_KEY);
    t.is(flip(3), SealedReject.AUTH_FAILED, 'type is authenticated');
    t.is(flip(12), SealedReject.AUTH_FAILED, 'session id is authenticated');
    t.is(flip(30), SealedReject.AUTH_FAILED, 'counter is authenticated');
    t.is(flip(40), SealedReject.AUTH_FAILED, 'ciphertext');
    t.is(flip(sealed!.length - 1), SealedReject.AUTH_FAILED, 'tag');
  });

  test(`[${name}] a datagram sealed with another key, a clear datagram and a truncated one are rejected with their reason`, (t) => {
    const b = make();
    b.setKey(1, randomBytes(32));
    const other = make();
    other.setKey(1, randomBytes(32));
    const [foreign] = other.sealBatch(1, 0, [clearDatagram(10)]);
    t.is(openOne(b, foreign!).code, SealedReject.AUTH_FAILED);
    t.is(openOne(b, clearDatagram(10)).code, SealedReject.CLEAR_ON_KEYED);
    t.is(openOne(b, foreign!.subarray(0, 40)).code, Reject.BAD_LENGTH);
    t.is(openOne(b, foreign!.subarray(0, 20)).code, Reject.TRUNCATED);
    b.removeKey(1);
    const [mine] = other.sealBatch(1, 1, [clearDatagram(10)]);
    t.is(openOne(b, mine!).code, SealedReject.UNKNOWN_KEY, 'after removeKey');
  });

  test(`[${name}] a batch opens datagram by datagram: good ones pass, a bad one in between is rejected alone`, (t) => {
    const b = make();
    b.setKey(2, randomBytes(32));
    const sealed = b.sealBatch(2, 100, [clearDatagram(64, 1), clearDatagram(1024, 2), clearDatagram(0, 3)]);
    sealed[1] = Buffer.from(sealed[1]!);
    sealed[1][50]! ^= 1;
    const buf = Buffer.concat(sealed);
    const offsets = new Uint32Array([0, sealed[0]!.length, sealed[0]!.length + sealed[1]!.length]);
    const lengths = new Uint32Array(sealed.map((s) => s.length));
    const words = new Uint32Array(3 * DECODED_WORDS);
    b.openBatch(buf, offsets, lengths, 3, words);
    t.deepEqual([words[0], words[DECODED_WORDS], words[2 * DECODED_WORDS]], [Reject.OK, SealedReject.AUTH_FAILED, Reject.OK]);
    t.is(words[2 * DECODED_WORDS + 6], 3);
  });
}

test('every datagram of a batch gets its own counter, so no two share a nonce', (t) => {
  const crypto = new GroupCrypto({ key: { id: 1, key: randomBytes(32) }, keyGraceMs: 1000 });
  const same = clearDatagram(100);
  const nonces = new Set<string>();
  for (let round = 0; round < 10; round++) {
    // The same clear datagram again and again, as repairs are: each sealing is new.
    for (const s of crypto.seal([same, same, same])) nonces.add(nonceOf(s, 0).toString('hex'));
  }
  t.is(nonces.size, 30);
  t.is(crypto.stats().datagramsSealed, 30);
});

test('a sender stops with CounterExhaustedError instead of wrapping its 48-bit counter', (t) => {
  const crypto = new GroupCrypto({ key: { id: 1, key: randomBytes(32) }, keyGraceMs: 1000, firstCounter: 2 ** 48 - 3 });
  const last = crypto.seal([clearDatagram(1), clearDatagram(1)]);
  t.is(readCounter(last[1]!, 0), 2 ** 48 - 2);
  t.throws(() => crypto.seal([clearDatagram(1), clearDatagram(1)]), { instanceOf: CounterExhaustedError, code: 'BLIPCAST_ERR_COUNTER_EXHAUSTED' } as never);
  t.is(readCounter(crypto.seal([clearDatagram(1)])[0]!, 0), 2 ** 48 - 1, 'the very last counter is still usable');
  t.throws(() => crypto.seal([clearDatagram(1)]), { instanceOf: CounterExhaustedError });
});

test('the replay window accepts each counter once, out of order within 1024, and nothing older', (t) => {
  const w = new ReplayWindow(1024);
  t.true(w.accept(5));
  t.false(w.accept(5));
  t.true(w.accept(3));
  t.true(w.accept(2000));
  t.false(w.accept(2000 - 1024), 'exactly the window size behind is too old');
  t.true(w.accept(2000 - 1023));
  t.false(w.accept(2000 - 1023));
  t.false(w.accept(3), 'far behind');
  t.true(w.accept(2 ** 47 + 1), 'a jump clears the whole ring');
  t.true(w.accept(2 ** 47));
  t.false(w.accept(2000));
  // Every counter of a long shuffled-in-blocks run exactly once.
  const v = new ReplayWindow(1024);
  let accepted = 0;
  for (let base = 0; base < 100_000; base += 512) {
    for (let i = 511; i >= 0; i--) if (v.accept(base + i)) accepted++;
    for (let i = 0; i < 512; i++) if (v.accept(base + i)) accepted++;
  }
  t.is(accepted, 100_352);
});

test('replay windows are per sender session and bounded in number', (t) => {
  const table = new ReplayTable(3, 1024);
  t.true(table.accept(1, 1, 10, 0));
  t.true(table.accept(1, 2, 10, 1), 'another session, same counter');
  t.false(table.accept(1, 1, 10, 2));
  t.true(table.accept(1, 3, 0, 3));
  t.true(table.accept(1, 4, 0, 4)); // evicts the least recently heard: 1:2
  t.is(table.size, 3);
  t.is(table.evictions, 1);
  t.false(table.accept(1, 1, 10, 5), '1:1 was heard recently and kept its window');
});

test('key rotation: the previous key opens during the grace period only', (t) => {
  const k1 = randomBytes(32);
  const k2 = randomBytes(32);
  const old = new NodeAead();
  old.setKey(1, k1);
  const receiver = new GroupCrypto({ key: { id: 1, key: k1 }, keyGraceMs: 100 });
  receiver.rotateKey({ id: 2, key: k2 }, 1000);
  const [s] = old.sealBatch(1, 0, [clearDatagram(10)]);
  const open = (nowMs: number): number => {
    const bytes = Buffer.from(s!);
    const words = new Uint32Array(DECODED_WORDS);
    receiver.open(nowMs, bytes, new Uint32Array([0]), new Uint32Array([bytes.length]), 1, words);
    return words[0]!;
  };
  t.is(open(1050), Reject.OK);
  t.is(open(1100), SealedReject.UNKNOWN_KEY);
  t.is(receiver.keyId, 2);
  t.throws(() => receiver.rotateKey({ id: 2, key: k1 }, 2000), { instanceOf: InvalidArgumentValueError });
});

test('group keys are checked: type, length and id, and copied', (t) => {
  t.throws(() => checkGroupKey('x'.repeat(32), 'key'), { instanceOf: InvalidArgumentTypeError, code: 'BLIPCAST_ERR_INVALID_ARG_TYPE' } as never);
  t.throws(() => checkGroupKey(randomBytes(16), 'key'), { instanceOf: InvalidArgumentValueError, message: /32 bytes/ });
  t.throws(() => checkGroupKey({ id: 0, key: randomBytes(32) }, 'key'), { instanceOf: InvalidArgumentValueError, message: /1\.\.255/ });
  t.throws(() => checkGroupKey({ id: 256, key: randomBytes(32) }, 'key'), { instanceOf: InvalidArgumentValueError });
  t.throws(() => checkGroupKey({ id: '2', key: randomBytes(32) }, 'key'), { instanceOf: InvalidArgumentTypeError });
  t.throws(() => checkGroupKey({ id: 2, key: [1, 2] }, 'key'), { instanceOf: InvalidArgumentTypeError });
  const raw = randomBytes(32);
  const k = checkGroupKey(raw, 'key');
  t.is(k.id, 1);
  raw[0]! ^= 1;
  t.not(k.key[0], raw[0], 'a private copy');
  t.is(checkGroupKey({ id: 200, key: raw }, 'key').id, 200);
});

test('key files hold 64 hex digits or 32 raw bytes', (t) => {
  const raw = randomBytes(32);
  t.deepEqual(Buffer.from(parseKeyBytes(raw, 'f')), raw);
  t.deepEqual(Buffer.from(parseKeyBytes(Buffer.from(`${raw.toString('hex')}\n`), 'f')), raw);
  t.throws(() => parseKeyBytes(Buffer.from('abcd'), 'f'), { instanceOf: InvalidArgumentValueError });
  t.throws(() => parseKeyBytes(randomBytes(33), 'f'), { instanceOf: InvalidArgumentValueError });
});
