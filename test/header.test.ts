import test from 'ava';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32c, crc32cUpdate } from '../src/wire/crc32c';
import { datagramChecksum, NATIVE_CRC_MIN_BYTES } from '../src/wire/checksum';
import { decodeHeader, decodeHeaderInto } from '../src/wire/decode';
import { emptyHeader, encodeDatagram, Header, HEADER_BYTES, sessionIdHex } from '../src/wire/header';
import { Reject, REJECT_NAMES } from '../src/wire/rejects';

interface Vector { name: string; hex: string; expect: string; header?: Header & { session: string } }
const file = JSON.parse(readFileSync(join(__dirname, '..', '..', 'test', 'vectors', 'header.json'), 'utf8')) as { vectors: Vector[]; crc32cCheck: { input: string; crc: string } };

test('crc32c matches the standard check value', (t) => {
  t.is(crc32c(Buffer.from(file.crc32cCheck.input)).toString(16), file.crc32cCheck.crc);
  t.is(crc32c(Buffer.alloc(32, 0)), 0x8a9136aa); // RFC 3720 B.4: 32 bytes of zeros
  t.is(crc32c(Buffer.alloc(32, 0xff)), 0x62a8ab43); // RFC 3720 B.4: 32 bytes of ones
});

test('crc32c can be computed in pieces', (t) => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(), (bytes, cut) => {
    const k = bytes.length === 0 ? 0 : cut % (bytes.length + 1);
    return crc32cUpdate(crc32cUpdate(0, bytes, 0, k), bytes, k, bytes.length) === crc32c(bytes);
  }));
  t.pass();
});

for (const v of file.vectors) {
  test(`vector: ${v.name} decodes as ${v.expect}`, (t) => {
    const result = decodeHeader(Buffer.from(v.hex, 'hex'));
    if (v.expect === 'ok') {
      t.true(result.ok);
      if (result.ok) {
        const { session, ...fields } = v.header!;
        t.deepEqual(result.header, fields);
        t.is(sessionIdHex(result.header.sessionHi, result.header.sessionLo), session);
      }
    } else {
      t.deepEqual(result, { ok: false, reason: v.expect as never });
    }
  });
}

const headerArb = fc.record({
  type: fc.integer({ min: 1, max: 6 }),
  flags: fc.integer({ min: 0, max: 255 }),
  keyId: fc.integer({ min: 0, max: 255 }),
  streamId: fc.integer({ min: 0, max: 0xffff }),
  sessionHi: fc.integer({ min: 0, max: 0xffffffff }),
  sessionLo: fc.integer({ min: 0, max: 0xffffffff }),
  sequence: fc.maxSafeNat(),
});

test('random headers round-trip through encode and decode', (t) => {
  fc.assert(fc.property(headerArb, fc.uint8Array({ maxLength: 2000 }), (fields, payload) => {
    const d = encodeDatagram(fields, payload);
    const r = decodeHeader(d);
    return r.ok && JSON.stringify(r.header) === JSON.stringify({ ...fields, payloadLength: payload.length }) && Buffer.compare(d.subarray(HEADER_BYTES), payload) === 0;
  }), { numRuns: 2000 });
  t.pass();
});

test('random bytes never throw and are rejected with a named reason', (t) => {
  const out = emptyHeader();
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
    const code = decodeHeaderInto(bytes, 0, bytes.length, out);
    return code !== Reject.OK && REJECT_NAMES[code] !== undefined;
  }), { numRuns: 5000 });
  t.pass();
});

test('any single flipped bit in a datagram is rejected', (t) => {
  fc.assert(fc.property(headerArb, fc.uint8Array({ maxLength: 64 }), fc.nat(), (fields, payload, where) => {
    const d = encodeDatagram(fields, payload);
    const bit = where % (d.length * 8);
    d[bit >> 3] ^= 1 << (bit & 7);
    return !decodeHeader(d).ok;
  }), { numRuns: 3000 });
  t.pass();
});

test('decoding in the middle of a larger buffer reads only that datagram', (t) => {
  const d = encodeDatagram({ type: 1, flags: 0, keyId: 0, streamId: 3, sessionHi: 1, sessionLo: 2, sequence: 77 }, Buffer.from('xyz'));
  const big = Buffer.concat([Buffer.alloc(5, 9), d, Buffer.alloc(7, 9)]);
  const out = emptyHeader();
  t.is(decodeHeaderInto(big, 5, d.length, out), Reject.OK);
  t.is(out.sequence, 77);
  t.is(decodeHeaderInto(big, 5, d.length + 1, out), Reject.BAD_LENGTH);
  t.is(decodeHeaderInto(big, big.length - 3, d.length, out), Reject.TRUNCATED);
});

test('the datagram checksum is the same whichever CRC implementation computes it', (t) => {
  fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 2000 }), (d) => {
    const expected = crc32cUpdate(crc32cUpdate(0, d, 0, 28), d, 32, d.length);
    return datagramChecksum(d, 0, d.length - 32) === expected;
  }), { numRuns: 1000 });
  t.pass(`native CRC from ${NATIVE_CRC_MIN_BYTES} bytes`);
});
