import test from 'ava';
import fc from 'fast-check';
import { createEndpoint } from '../src/protocol/endpoint';
import { splitMessages } from './helpers/split-messages';
import { DatagramType, encodeDatagram } from '../src/wire/header';
import { decodeHeader } from '../src/wire/decode';
import { decodeHeartbeat, decodeNak, decodeNcf, decodeStatus, encodeHeartbeat, encodeNak, encodeNcf, encodeStatus, NcfReason, STATUS_ENTRY_BYTES, STATUS_FIXED_BYTES, STATUS_HEALTH_BYTES, StatusFlag } from '../src/protocol/payload';
import { account, message, seededRandom, testConfig } from './helpers/sim';

const origin = { sessionHi: 0x01020304, sessionLo: 0x05060708 };

test('control payloads round-trip through their codecs', (t) => {
  const hb = encodeHeartbeat(origin, 1, [{ streamId: 7, trailSeq: 2 ** 40, nextSeq: 2 ** 40 + 5, ageMs: 1234 }]);
  t.deepEqual(decodeHeartbeat(hb, 32, hb.length), [{ streamId: 7, trailSeq: 2 ** 40, nextSeq: 2 ** 40 + 5, ageMs: 1234 }]);
  const nak = encodeNak(origin, 3, 9, 10, [{ from: 1, to: 4 }, { from: 9, to: 9 }]);
  t.deepEqual(decodeNak(nak, 32, nak.length), { targetHi: 9, targetLo: 10, ranges: [{ from: 1, to: 4 }, { from: 9, to: 9 }] });
  const ncf = encodeNcf(origin, 3, NcfReason.WINDOW, [{ from: 0, to: 99 }]);
  t.deepEqual(decodeNcf(ncf, 32, ncf.length), { reason: NcfReason.WINDOW, ranges: [{ from: 0, to: 99 }] });
  const st = encodeStatus(origin, 9, 10, [{ streamId: 1, nextSeq: 123, freeBytes: 4096 }]);
  t.deepEqual(decodeStatus(st, 32, st.length), { targetHi: 9, targetLo: 10, entries: [{ streamId: 1, nextSeq: 123, freeBytes: 4096 }] });
  t.true(decodeHeader(hb).ok && decodeHeader(nak).ok && decodeHeader(ncf).ok && decodeHeader(st).ok);
});

test('STATUS health report: 32 bytes after the entries, flagged HEALTH; without the flag the longer payload is invalid, and counters saturate', (t) => {
  const health = { naksSent: 12, repairsReceived: 11, messagesLost: 1, kernelDrops: 3, reorderBytes: 9000, gapsOpen: 2, repairLatencyUs: 1500, readBacklogBytes: 7 };
  const st = encodeStatus(origin, 9, 10, [{ streamId: 1, nextSeq: 123, freeBytes: 4096 }], 0, health);
  t.is(st.length, 32 + STATUS_FIXED_BYTES + STATUS_ENTRY_BYTES + STATUS_HEALTH_BYTES);
  const h = decodeHeader(st);
  t.true(h.ok);
  if (!h.ok) return;
  t.is(h.header.flags & StatusFlag.HEALTH, StatusFlag.HEALTH);
  t.deepEqual(decodeStatus(st, 32, st.length, h.header.flags)?.health, health);
  t.is(decodeStatus(st, 32, st.length, 0), undefined, 'an endpoint that does not read the flag rejects the length');
  const big = encodeStatus(origin, 9, 10, [], 0, { ...health, naksSent: 2 ** 40, gapsOpen: 1e6, repairLatencyUs: -5 });
  const hb = decodeStatus(big, 32, big.length, StatusFlag.HEALTH)!.health!;
  t.is(hb.naksSent, 0xffffffff);
  t.is(hb.gapsOpen, 0xffff);
  t.is(hb.repairLatencyUs, 0);
});

test('random payloads under valid headers are counted as invalid, never thrown, and never break in-order exactly-once delivery', (t) => {
  const types = [DatagramType.DATA, DatagramType.HEARTBEAT, DatagramType.NAK, DatagramType.NCF, DatagramType.STATUS];
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          type: fc.constantFrom(...types),
          flags: fc.integer({ min: 0, max: 255 }),
          streamId: fc.constantFrom(0, 1),
          sequence: fc.oneof(fc.integer({ min: 0, max: 40 }), fc.constant(2 ** 53 - 2)),
          payload: fc.uint8Array({ maxLength: 200 }),
          real: fc.boolean(),
        }),
        { maxLength: 60 },
      ),
      (inputs) => {
        const rnd = seededRandom(5);
        const ep = createEndpoint(testConfig(rnd, { lateJoin: 'earliest', maxReassemblyBytes: 4096, maxReorderBytes: 8192 }));
        const sender = { sessionHi: 0xaaaa, sessionLo: 0xbbbb };
        let realSeq = 0;
        let now = 0;
        for (const input of inputs) {
          now += 0.5;
          let dg: Buffer;
          if (input.real) {
            // Interleave genuine packed data so delivery has something to keep in order.
            const m = message(realSeq);
            const payload = Buffer.alloc(2 + m.length);
            payload.writeUInt16BE(m.length, 0);
            m.copy(payload, 2);
            dg = encodeDatagram({ type: DatagramType.DATA, flags: 0, keyId: 0, streamId: 0, ...sender, sequence: realSeq++ }, payload);
          } else {
            dg = encodeDatagram({ type: input.type, flags: input.flags, keyId: 0, streamId: input.streamId, ...sender, sequence: input.sequence }, input.payload);
          }
          const d = decodeHeader(dg);
          if (!d.ok) continue;
          ep.handleDatagram(now, dg, d.header, { address: '198.18.0.9', port: 1 });
          ep.handleTimeout(now);
          while (ep.pollTransmit(now)) { /* discard */ }
        }
        ep.handleTimeout(now + 100_000);
        const events = [];
        for (let e = ep.pollEvent(); e; e = ep.pollEvent()) events.push(...splitMessages(e));
        // Per stream: sequence numbers of messages and losses strictly increase and never overlap.
        for (const streamId of [0, 1]) {
          let next = -1;
          for (const e of events) {
            if ((e.type === 'message' || e.type === 'loss') && e.streamId === streamId) {
              const from = e.type === 'message' ? e.seq : e.fromSeq;
              const to = e.type === 'message' ? e.seq : e.toSeq;
              if (from < next || to < from) throw new Error(`stream ${streamId}: ${e.type} ${from}-${to} after ${next - 1}`);
              next = to + 1;
            }
          }
        }
        const acc = account(events, '0000aaaa0000bbbb', 0, () => 64);
        const realMessages = acc.indexes.filter((_, i) => acc.seqs[i]! < realSeq);
        for (let i = 1; i < realMessages.length; i++) if (realMessages[i]! <= realMessages[i - 1]!) throw new Error('out of order');
      },
    ),
    { numRuns: 300, seed: 42 },
  );
  // Also: a few obviously malformed payloads are counted.
  const ep = createEndpoint(testConfig(seededRandom(1)));
  for (const type of types) {
    const dg = encodeDatagram({ type, flags: type === DatagramType.DATA ? 0x02 : 0, keyId: 0, streamId: 0, sessionHi: 1, sessionLo: 2, sequence: 0 }, Buffer.from([1, 2, 3]));
    const d = decodeHeader(dg);
    if (d.ok) ep.handleDatagram(0, dg, d.header, undefined);
  }
  t.is(ep.stats().invalid, types.length);
});

test('an endpoint ignores datagrams from its own session', (t) => {
  const cfg = testConfig(seededRandom(3));
  const ep = createEndpoint(cfg);
  ep.send(0, 0, message(1));
  ep.flush(0);
  const dg = Buffer.from(ep.pollTransmit(0)!);
  const d = decodeHeader(dg);
  t.true(d.ok);
  if (d.ok) ep.handleDatagram(0, dg, d.header, undefined);
  t.is(ep.stats().datagramsReceived, 0);
  t.is(ep.pollEvent(), undefined);
});
