import test from 'ava';
import fc from 'fast-check';
import { createMembership } from '../src/group/membership';
import { BUCKETS, ControlKind, decodeControl, encodeControl, UpdateState, type ControlBody, type ControlMessage } from '../src/group/codec';
import { DatagramType, encodeDatagram, HEADER_BYTES } from '../src/wire/header';
import { decodeHeader } from '../src/wire/decode';
import { seededRandom } from './group-sim';

const idArb = fc.tuple(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 1, max: 0xffffffff })).map(([hi, lo]) => hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0'));
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const bodyArb: fc.Arbitrary<ControlBody> = fc.oneof(
  fc.record({
    kind: fc.constant(ControlKind.ANNOUNCE),
    name: fc.string({ maxLength: 40 }),
    metadata: fc.uniqueArray(fc.tuple(fc.string({ maxLength: 20 }), fc.string({ maxLength: 60 })), { maxLength: 6, selector: ([k]) => k }),
  }),
  fc.record({ kind: fc.constant(ControlKind.PING), target: idArb, nonce: u32, requester: fc.option(idArb, { nil: undefined }) }),
  fc.record({ kind: fc.constant(ControlKind.ACK), requester: idArb, nonce: u32, subject: idArb }),
  fc.record({ kind: fc.constant(ControlKind.PING_REQ), target: idArb, nonce: u32, helpers: fc.array(idArb, { maxLength: 5 }) }),
  fc.record({ kind: fc.constant(ControlKind.LEAVE) }),
  fc.record({ kind: fc.constant(ControlKind.HEARTBEAT), count: fc.integer({ min: 0, max: 0xffff }), digest: u32 }),
  fc.integer({ min: 0, max: BUCKETS }).chain((first) => fc.record({
    kind: fc.constant(ControlKind.SUMMARY),
    first: fc.constant(first),
    buckets: fc.array(fc.record({ count: fc.integer({ min: 0, max: 0xffff }), xor: u32 }), { maxLength: BUCKETS - first }),
  })),
  fc.record({ kind: fc.constant(ControlKind.WANT), target: idArb, buckets: fc.array(fc.integer({ min: 0, max: BUCKETS - 1 }), { maxLength: BUCKETS }) }),
  fc.record({
    kind: fc.constant(ControlKind.RECORDS),
    records: fc.array(fc.record({
      id: idArb,
      incarnation: u32,
      observer: fc.boolean(),
      name: fc.string({ maxLength: 20 }),
      metadata: fc.uniqueArray(fc.tuple(fc.string({ maxLength: 10 }), fc.string({ maxLength: 20 })), { maxLength: 4, selector: ([k]) => k }),
    }), { maxLength: 5 }),
  }),
) as fc.Arbitrary<ControlBody>;
const msgArb: fc.Arbitrary<ControlMessage> = fc.record({
  incarnation: u32,
  body: bodyArb,
  updates: fc.array(fc.record({ state: fc.constantFrom(UpdateState.ALIVE, UpdateState.SUSPECT, UpdateState.DEAD, UpdateState.LEFT), id: idArb, incarnation: u32 }), { maxLength: 10 }),
});
const hdr = { streamId: 0, sessionHi: 1, sessionLo: 2, sequence: 7 };

test('every control message decodes to what was encoded', (t) => {
  fc.assert(fc.property(msgArb, (m) => {
    const dg = encodeControl(hdr, m);
    const h = decodeHeader(dg);
    if (!h.ok || h.header.type !== DatagramType.CONTROL) return false;
    t.deepEqual(decodeControl(dg, HEADER_BYTES, dg.length), m);
    return true;
  }), { seed: 51, numRuns: 500 });
  t.pass();
});

test('a control message cut short or extended by one byte is rejected, never thrown', (t) => {
  fc.assert(fc.property(msgArb, fc.nat(), (m, cutAt) => {
    const dg = encodeControl(hdr, m);
    const cut = HEADER_BYTES + (cutAt % (dg.length - HEADER_BYTES));
    const longer = Buffer.concat([dg, Buffer.from([0])]);
    return decodeControl(dg, HEADER_BYTES, cut) === undefined && decodeControl(longer, HEADER_BYTES, longer.length) === undefined;
  }), { seed: 52, numRuns: 500 });
  t.pass();
});

test('malformed CONTROL payloads never throw, are counted as invalid, and leave the member working', (t) => {
  const random = seededRandom(53);
  const m = createMembership({ sessionHi: 0x1234, sessionLo: 0x5678, name: 'me', random });
  m.join(0);
  while (m.pollTransmit() !== undefined);
  let sent = 0;
  let decodable = 0;
  fc.assert(fc.property(
    fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      // Mostly-valid payloads with bytes flipped: they reach deep into the decoder.
      fc.tuple(msgArb, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 })).map(([msg, flips]) => {
        const p = encodeControl(hdr, msg).subarray(HEADER_BYTES);
        const b = Uint8Array.from(p);
        for (const [at, x] of flips) b[at % b.length] ^= x;
        return b;
      }),
    ),
    fc.integer({ min: 1, max: 0xffffffff }),
    (payload, lo) => {
      const dg = encodeDatagram({ type: DatagramType.CONTROL, flags: 0, keyId: 0, streamId: 0, sessionHi: 9, sessionLo: lo, sequence: 0 }, payload);
      const h = decodeHeader(dg);
      if (!h.ok) return false;
      if (decodeControl(dg, HEADER_BYTES, dg.length) !== undefined) decodable++;
      m.handleDatagram(sent, dg, h.header);
      sent++;
      m.handleTimeout(sent);
      while (m.pollTransmit() !== undefined);
      while (m.pollEvent() !== undefined);
      return true;
    },
  ), { seed: 54, numRuns: 2000 });
  const st = m.stats();
  t.log(`${sent} datagrams: ${st.invalid} invalid, ${decodable} decodable`);
  t.is(st.invalid, sent - decodable);
  t.true(st.invalid > sent / 2);
  // A well-formed announce is still learned afterwards.
  const hello = encodeControl({ streamId: 0, sessionHi: 0xabc, sessionLo: 0xdef, sequence: 0 }, { incarnation: 0, body: { kind: ControlKind.ANNOUNCE, name: 'peer', metadata: [['role', 'x']] }, updates: [] });
  const h = decodeHeader(hello);
  if (!h.ok) return t.fail();
  m.handleDatagram(sent + 10, hello, h.header);
  t.true(m.members({ role: 'x' }).some((x) => x.name === 'peer'));
});

test('a member rejects a name or metadata that cannot fit one announce', (t) => {
  const random = seededRandom(55);
  t.throws(() => createMembership({ sessionHi: 1, sessionLo: 1, name: 'x'.repeat(256), random }), { code: 'BLIPCAST_ERR_INVALID_ARG_VALUE' });
  t.throws(() => createMembership({ sessionHi: 1, sessionLo: 1, name: 'x', metadata: { big: 'y'.repeat(1500) }, random }), { code: 'BLIPCAST_ERR_INVALID_ARG_VALUE' });
  t.throws(() => createMembership({ sessionHi: 0, sessionLo: 0, name: 'x', random }), { code: 'BLIPCAST_ERR_INVALID_ARG_VALUE' });
  t.notThrows(() => createMembership({ sessionHi: 1, sessionLo: 1, name: 'x', metadata: { service: 'logs', addr: '198.18.0.1:4000' }, random }));
});
