/**
 * Property tests (fast-check) for every TypeScript decoder of network input:
 * the header (src/wire/header.ts) and the payloads (src/protocol/payload.ts).
 * Random bytes never throw and decode either to in-range values or to a
 * reject; encode → decode gives back what was encoded. BLIPCAST_FUZZ_RUNS
 * multiplies the run counts (scripts/fuzz.sh; docs/fuzzing.md).
 */

import test, { type ExecutionContext } from 'ava';
import fc from 'fast-check';
import {
  decodeHeartbeat, decodeNak, decodeNcf, decodeStatus, encodeHeartbeat, encodeNak, encodeNcf, encodeStatus,
  parseFragment, parsePacked, FRAGMENT_PREFIX_BYTES, HEARTBEAT_ENTRY_BYTES, HEARTBEAT_FIXED_BYTES, NAK_FIXED_BYTES,
  NCF_FIXED_BYTES, RANGE_BYTES, STATUS_ENTRY_BYTES, STATUS_FIXED_BYTES, STATUS_HEALTH_BYTES, StatusFlag, writeU32,
  type FragmentInfo, type SeqRange,
} from '../src/protocol/payload';
import { decodeHeader, decodeHeaderInto } from '../src/wire/decode';
import { emptyHeader, encodeDatagram, DatagramType, HEADER_BYTES, MAX_PAYLOAD_BYTES, type Header } from '../src/wire/header';
import { Reject } from '../src/wire/rejects';

const SCALE = Math.max(1, Number(process.env.BLIPCAST_FUZZ_RUNS ?? '1') || 1);
const RUNS = 1000 * SCALE;

function check<Ts extends [unknown, ...unknown[]]>(t: ExecutionContext, prop: fc.IProperty<Ts>, numRuns = RUNS): void {
  const details = fc.check(prop, { numRuns });
  t.false(details.failed, fc.defaultReportMessage(details) ?? 'property failed');
  t.is(details.numRuns, numRuns);
}

const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const seq = fc.maxSafeNat();
/** A sequence number near the edges that matter (0, 2^32, 2^53) as often as anywhere else. */
const edgySeq = fc.oneof(seq, fc.integer({ min: 0, max: 300 }), fc.integer({ min: 2 ** 32 - 5, max: 2 ** 32 + 5 }),
  fc.integer({ min: Number.MAX_SAFE_INTEGER - 5, max: Number.MAX_SAFE_INTEGER }));
const range: fc.Arbitrary<SeqRange> = fc.tuple(edgySeq, edgySeq).map(([a, b]) => ({ from: Math.min(a, b), to: Math.max(a, b) }));

/** Random bytes and a window [start, end) inside them (a decoder gets a view of a larger buffer). */
const window = fc.uint8Array({ maxLength: 600 }).chain((b) =>
  fc.tuple(fc.constant(b), fc.integer({ min: 0, max: b.length })).chain(([bytes, start]) =>
    fc.tuple(fc.constant(bytes), fc.constant(start), fc.integer({ min: start, max: bytes.length }))));

/** Random bytes whose first u16 / count field says how many entries follow, so that decoding gets past the length check. */
function counted(fixedBytes: number, entryBytes: number, countOffset: number): fc.Arbitrary<Uint8Array> {
  return fc.integer({ min: 0, max: 12 }).chain((count) =>
    fc.uint8Array({ minLength: fixedBytes + count * entryBytes, maxLength: fixedBytes + count * entryBytes }).map((b) => {
      b[countOffset] = count >>> 8;
      b[countOffset + 1] = count & 0xff;
      return b;
    }));
}

function isSeq(v: number): boolean {
  return Number.isSafeInteger(v) && v >= 0;
}
function isU(v: number, max: number): boolean {
  return Number.isInteger(v) && v >= 0 && v <= max;
}
function rangesValid(rs: readonly SeqRange[]): boolean {
  return rs.length > 0 && rs.every((r) => isSeq(r.from) && isSeq(r.to) && r.from <= r.to);
}

// ---------------------------------------------------------------- header

test('the header decoder never throws and rejects or returns in-range fields for random bytes anywhere in a buffer', (t) => {
  check(t, fc.property(fc.uint8Array({ maxLength: 200 }), fc.integer({ min: -40, max: 240 }), fc.integer({ min: -40, max: 240 }), (b, offset, length) => {
    const h = emptyHeader();
    const code = decodeHeaderInto(b, offset, length, h);
    if (!isU(code, Reject.BAD_SEQUENCE)) return false;
    if (code !== Reject.OK) return true;
    return offset >= 0 && offset + length <= b.length && length === HEADER_BYTES + h.payloadLength
      && h.type >= 1 && h.type <= DatagramType.CONTROL && isU(h.flags, 0xff) && isU(h.keyId, 0xff) && isU(h.streamId, 0xffff)
      && isU(h.sessionHi, 0xffffffff) && isU(h.sessionLo, 0xffffffff) && isSeq(h.sequence);
  }));
});

const headerFields = fc.record({
  type: fc.integer({ min: 1, max: 6 }), flags: fc.integer({ min: 0, max: 0xff }), keyId: fc.integer({ min: 0, max: 0xff }),
  streamId: u16, sessionHi: u32, sessionLo: u32, sequence: edgySeq,
});

test('a header encoded at any offset of a buffer decodes to the same fields', (t) => {
  check(t, fc.property(headerFields, fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ maxLength: 40 }),
    (fields, payload, before, after) => {
      const dg = encodeDatagram(fields, payload);
      const buf = new Uint8Array(before.length + dg.length + after.length);
      buf.set(before, 0);
      buf.set(dg, before.length);
      buf.set(after, before.length + dg.length);
      const h = emptyHeader();
      if (decodeHeaderInto(buf, before.length, dg.length, h) !== Reject.OK) return false;
      const want: Header = { ...fields, payloadLength: payload.length };
      return (Object.keys(want) as (keyof Header)[]).every((k) => h[k] === want[k]);
    }));
});

test('a valid datagram with any single bit flipped or any wrong length is rejected', (t) => {
  check(t, fc.property(headerFields, fc.uint8Array({ maxLength: 200 }), fc.nat(), fc.integer({ min: -HEADER_BYTES, max: 40 }), (fields, payload, bitPick, delta) => {
    const dg = encodeDatagram(fields, payload);
    const bit = bitPick % (dg.length * 8);
    const flipped = Buffer.from(dg);
    flipped[bit >>> 3]! ^= 1 << (bit & 7);
    if (decodeHeader(flipped).ok) return false; // CRC32C catches every single-bit error; magic, version and length bits fail earlier
    if (delta === 0) return true;
    const longer = Buffer.concat([dg, Buffer.alloc(Math.max(0, delta))]);
    return decodeHeaderInto(longer, 0, dg.length + delta, emptyHeader()) !== Reject.OK;
  }));
});

// ---------------------------------------------------------------- DATA

test('parsePacked never throws and either rejects or tiles the payload exactly with its messages', (t) => {
  check(t, fc.property(window, ([b, start, end]) => {
    const offsets: number[] = [];
    const lengths: number[] = [];
    const n = parsePacked(b, start, end, offsets, lengths);
    if (n === -1) return true;
    if (!(n >= 1)) return false;
    let o = start;
    for (let i = 0; i < n; i++) {
      if (offsets[i] !== o + 2 || lengths[i] !== ((b[o]! << 8) | b[o + 1]!)) return false;
      o = offsets[i]! + lengths[i]!;
    }
    return o === end;
  }));
});

test('packed messages come back from parsePacked as they were packed', (t) => {
  check(t, fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 1, maxLength: 20 }), fc.nat({ max: 16 }), (messages, start) => {
    const parts: Uint8Array[] = [new Uint8Array(start)];
    for (const m of messages) parts.push(Uint8Array.of(m.length >>> 8, m.length & 0xff), m);
    const b = Buffer.concat(parts);
    const offsets: number[] = [];
    const lengths: number[] = [];
    if (parsePacked(b, start, b.length, offsets, lengths) !== messages.length) return false;
    return messages.every((m, i) => Buffer.from(b.subarray(offsets[i]!, offsets[i]! + lengths[i]!)).equals(m));
  }));
});

test('parseFragment never throws and accepts only fragments that fit inside their message', (t) => {
  check(t, fc.property(window, ([b, start, end]) => {
    const f: FragmentInfo = { messageBytes: -1, offset: -1, dataStart: -1, dataBytes: -1 };
    if (!parseFragment(b, start, end, f)) return true;
    return f.dataStart === start + FRAGMENT_PREFIX_BYTES && f.dataBytes === end - f.dataStart && f.dataBytes > 0
      && isU(f.messageBytes, 0xffffffff) && isU(f.offset, 0xffffffff) && f.offset + f.dataBytes <= f.messageBytes;
  }));
});

test('a fragment header round-trips through parseFragment', (t) => {
  check(t, fc.property(u32, u32, fc.uint8Array({ minLength: 1, maxLength: 300 }), (messageBytes, offset, data) => {
    const b = new Uint8Array(FRAGMENT_PREFIX_BYTES + data.length);
    writeU32(b, 0, messageBytes);
    writeU32(b, 4, offset);
    b.set(data, FRAGMENT_PREFIX_BYTES);
    const f: FragmentInfo = { messageBytes: 0, offset: 0, dataStart: 0, dataBytes: 0 };
    const fits = offset + data.length <= messageBytes;
    return parseFragment(b, 0, b.length, f) === fits
      && (!fits || (f.messageBytes === messageBytes && f.offset === offset && f.dataStart === FRAGMENT_PREFIX_BYTES && f.dataBytes === data.length));
  }));
});

// ---------------------------------------------------------------- control payloads

const origin = fc.record({ sessionHi: u32, sessionLo: u32 });

test('decodeHeartbeat never throws and returns only entries with trail ≤ next < 2^53', (t) => {
  const prop = (b: Uint8Array, start: number, end: number): boolean => {
    const entries = decodeHeartbeat(b, start, end);
    if (entries === undefined) return true;
    return end - start === HEARTBEAT_FIXED_BYTES + entries.length * HEARTBEAT_ENTRY_BYTES
      && entries.every((e) => isU(e.streamId, 0xffff) && isSeq(e.trailSeq) && isSeq(e.nextSeq) && e.trailSeq <= e.nextSeq && isU(e.ageMs, 0xffffffff));
  };
  check(t, fc.property(window, ([b, start, end]) => prop(b, start, end)));
  check(t, fc.property(counted(HEARTBEAT_FIXED_BYTES, HEARTBEAT_ENTRY_BYTES, 0), (b) => prop(b, 0, b.length)));
});

test('heartbeats round-trip through encodeHeartbeat and decodeHeartbeat', (t) => {
  const entry = fc.record({ streamId: u16, r: range, ageMs: u32 }).map(({ streamId, r, ageMs }) => ({ streamId, trailSeq: r.from, nextSeq: r.to, ageMs }));
  check(t, fc.property(origin, fc.integer({ min: 0, max: 0xff }), fc.array(entry, { maxLength: 30 }), (o, flags, entries) => {
    const dg = encodeHeartbeat(o, flags, entries);
    const h = decodeHeader(dg);
    return h.ok && h.header.type === DatagramType.HEARTBEAT && h.header.flags === flags
      && JSON.stringify(decodeHeartbeat(dg, HEADER_BYTES, dg.length)) === JSON.stringify(entries);
  }));
});

test('decodeNak never throws and returns only non-empty, ordered ranges below 2^53', (t) => {
  const prop = (b: Uint8Array, start: number, end: number): boolean => {
    const nak = decodeNak(b, start, end);
    if (nak === undefined) return true;
    return end - start === NAK_FIXED_BYTES + nak.ranges.length * RANGE_BYTES && rangesValid(nak.ranges)
      && isU(nak.targetHi, 0xffffffff) && isU(nak.targetLo, 0xffffffff);
  };
  check(t, fc.property(window, ([b, start, end]) => prop(b, start, end)));
  check(t, fc.property(counted(NAK_FIXED_BYTES, RANGE_BYTES, 8), (b) => prop(b, 0, b.length)));
});

test('NAKs round-trip through encodeNak and decodeNak', (t) => {
  check(t, fc.property(origin, u16, u32, u32, fc.array(range, { minLength: 1, maxLength: 30 }), (o, streamId, targetHi, targetLo, ranges) => {
    const dg = encodeNak(o, streamId, targetHi, targetLo, ranges);
    const h = decodeHeader(dg);
    return h.ok && h.header.type === DatagramType.NAK && h.header.streamId === streamId && h.header.sequence === ranges[0]!.from
      && JSON.stringify(decodeNak(dg, HEADER_BYTES, dg.length)) === JSON.stringify({ targetHi, targetLo, ranges });
  }));
});

test('decodeNcf never throws and returns only a known reason with non-empty, ordered ranges', (t) => {
  const prop = (b: Uint8Array, start: number, end: number): boolean => {
    const ncf = decodeNcf(b, start, end);
    if (ncf === undefined) return true;
    return end - start === NCF_FIXED_BYTES + ncf.ranges.length * RANGE_BYTES && rangesValid(ncf.ranges) && isU(ncf.reason, 2);
  };
  check(t, fc.property(window, ([b, start, end]) => prop(b, start, end)));
  // Reason byte 0..3 and a zero pad most of the time, so that the ranges get decoded.
  check(t, fc.property(counted(NCF_FIXED_BYTES, RANGE_BYTES, 2), fc.integer({ min: 0, max: 3 }), fc.boolean(), (b, reason, pad) => {
    b[0] = reason;
    if (pad) b[1] = 0;
    return prop(b, 0, b.length);
  }));
});

test('NCFs round-trip through encodeNcf and decodeNcf', (t) => {
  check(t, fc.property(origin, u16, fc.integer({ min: 0, max: 2 }), fc.array(range, { minLength: 1, maxLength: 30 }), (o, streamId, reason, ranges) => {
    const dg = encodeNcf(o, streamId, reason, ranges);
    const h = decodeHeader(dg);
    return h.ok && h.header.type === DatagramType.NCF
      && JSON.stringify(decodeNcf(dg, HEADER_BYTES, dg.length)) === JSON.stringify({ reason, ranges });
  }));
});

test('decodeStatus never throws and returns only entries below 2^53', (t) => {
  const prop = (b: Uint8Array, start: number, end: number): boolean => {
    const st = decodeStatus(b, start, end);
    if (st === undefined) return true;
    return end - start === STATUS_FIXED_BYTES + st.entries.length * STATUS_ENTRY_BYTES
      && isU(st.targetHi, 0xffffffff) && isU(st.targetLo, 0xffffffff)
      && st.entries.every((e) => isU(e.streamId, 0xffff) && isSeq(e.nextSeq) && isU(e.freeBytes, 0xffffffff));
  };
  check(t, fc.property(window, ([b, start, end]) => prop(b, start, end)));
  check(t, fc.property(counted(STATUS_FIXED_BYTES, STATUS_ENTRY_BYTES, 8), (b) => prop(b, 0, b.length)));
});

test('status reports round-trip through encodeStatus and decodeStatus, with and without a health report', (t) => {
  const entry = fc.record({ streamId: u16, nextSeq: edgySeq, freeBytes: u32 });
  const health = fc.option(fc.record({
    naksSent: u32, repairsReceived: u32, messagesLost: u32, kernelDrops: u32, reorderBytes: u32, gapsOpen: u16, repairLatencyUs: u32, readBacklogBytes: u32,
  }), { nil: undefined });
  check(t, fc.property(origin, u32, u32, fc.array(entry, { maxLength: 30 }), fc.integer({ min: 0, max: 0xff }), health, (o, targetHi, targetLo, entries, flags, hr) => {
    const dg = encodeStatus(o, targetHi, targetLo, entries, flags, hr);
    const h = decodeHeader(dg);
    // The HEALTH flag says whether a report follows: encodeStatus sets it exactly when one is given.
    const wantFlags = hr === undefined ? flags & ~StatusFlag.HEALTH : flags | StatusFlag.HEALTH;
    const want = hr === undefined ? { targetHi, targetLo, entries } : { targetHi, targetLo, entries, health: hr };
    return h.ok && h.header.type === DatagramType.STATUS && h.header.flags === wantFlags && h.header.payloadLength <= MAX_PAYLOAD_BYTES
      && JSON.stringify(decodeStatus(dg, HEADER_BYTES, dg.length, h.header.flags)) === JSON.stringify(want);
  }));
});

test('decodeStatus with the HEALTH flag never throws and accepts only entries plus exactly one health report', (t) => {
  const prop = (b: Uint8Array, start: number, end: number): boolean => {
    const st = decodeStatus(b, start, end, StatusFlag.HEALTH);
    if (st === undefined) return true;
    const hr = st.health!;
    return end - start === STATUS_FIXED_BYTES + st.entries.length * STATUS_ENTRY_BYTES + STATUS_HEALTH_BYTES
      && [hr.naksSent, hr.repairsReceived, hr.messagesLost, hr.kernelDrops, hr.reorderBytes, hr.repairLatencyUs, hr.readBacklogBytes].every((v) => isU(v, 0xffffffff))
      && isU(hr.gapsOpen, 0xffff);
  };
  check(t, fc.property(window, ([b, start, end]) => prop(b, start, end)));
});
