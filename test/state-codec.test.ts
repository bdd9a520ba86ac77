/** The replicated map's wire: every message round-trips, and no input makes the decoder throw. */

import test from 'ava';
import fc from 'fast-check';
import { decode, encodeChunk, encodeDelta, encodeRequest, encodeSummary, entryBytes, Type, type Vector, type WireEntry } from '../src/state/codec';

const id = fc.stringMatching(/^[0-9a-f]{16}$/);
const entryArb: fc.Arbitrary<WireEntry> = fc.record({
  key: fc.string({ maxLength: 40 }),
  stamp: fc.record({ t: fc.integer({ min: 0, max: 2 ** 48 - 1 }), c: fc.integer({ min: 0, max: 0xffff }), writer: id }),
  value: fc.option(fc.uint8Array({ maxLength: 64 }).map((u) => Buffer.from(u)), { nil: undefined }),
});
const vectorArb: fc.Arbitrary<Vector> = fc.array(fc.tuple(id, fc.integer({ min: 0, max: 2 ** 48 - 1 })), { maxLength: 8 }).map((pairs) => new Map(pairs));

test('DELTA, CHUNK, SUMMARY and REQUEST round-trip', (t) => {
  fc.assert(fc.property(id, fc.integer({ min: 1, max: 2 ** 48 - 1 }), fc.array(entryArb, { maxLength: 10 }), (source, dseq, entries) => {
    const size = entries.reduce((n, e) => n + entryBytes(e.key, e.value, false), 0);
    const m = decode(encodeDelta(dseq, 2, entries, size), source);
    t.deepEqual(m, { type: Type.Delta, flags: 2, dseq, entries: entries.map((e) => ({ ...e, stamp: { ...e.stamp, writer: source } })) });
  }));
  fc.assert(fc.property(fc.nat(), fc.nat(), fc.integer({ min: 0, max: 65_536 }), vectorArb, fc.array(entryArb, { maxLength: 10 }), (cycle, index, to, vector, entries) => {
    const size = entries.reduce((n, e) => n + entryBytes(e.key, e.value, true), 0);
    const m = decode(encodeChunk(cycle, index, 5, 0, to, vector, entries, size), 'ffffffffffffffff');
    t.deepEqual(m, { type: Type.Chunk, cycle, index, flags: 5, from: 0, to, vector: index === 0 ? vector : undefined, entries });
  }));
  fc.assert(fc.property(vectorArb, id, fc.nat(), (vector, digest, n) => {
    t.deepEqual(decode(encodeSummary(3, 77, n, digest, vector), digest), { type: Type.Summary, flags: 3, dseq: 77, entries: n, digest, vector });
    t.deepEqual(decode(encodeRequest(digest, vector), digest), { type: Type.Request, target: digest, needs: vector });
  }));
});

test('random bytes and truncated messages decode to undefined, never throw', (t) => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
    const m = decode(Buffer.from(bytes), '0000000000000001');
    t.true(m === undefined || typeof m.type === 'number');
  }), { numRuns: 5000 });
  const whole = encodeChunk(1, 0, 0, 0, 65_536, new Map([['0000000000000001', 5]]), [{ key: 'k', stamp: { t: 1, c: 0, writer: '0000000000000002' }, value: Buffer.from('v') }], 100);
  for (let n = 0; n < whole.length; n++) t.is(decode(whole.subarray(0, n), 'x'), undefined);
  t.is(decode(Buffer.concat([whole, Buffer.from([0])]), 'x'), undefined, 'trailing bytes');
});
