/**
 * EndpointConfig.checksum: a keyed channel's endpoint leaves the header CRC
 * out (its seal writes the counter into that field), everything else still
 * carries it. Checked on every datagram a sender and a receiver produce:
 * data, heartbeats, NAKs, status, NCFs and repairs.
 */

import test from 'ava';
import { createEndpoint } from '../src/protocol/endpoint';
import type { Endpoint } from '../src/protocol/api';
import { DataFlag } from '../src/protocol/payload';
import { CRC_OFFSET, DatagramType } from '../src/wire/header';
import { decodeHeader } from '../src/wire/decode';
import { datagramChecksum } from '../src/wire/checksum';
import { seededRandom, testConfig } from './helpers/sim';

/** Runs a sender and a receiver for a while, losing every 5th data datagram; returns every datagram either sent, by type. */
function exchange(checksum: boolean | undefined): Map<number, Uint8Array[]> {
  const random = seededRandom(17);
  const overrides = checksum === undefined ? {} : { checksum };
  const tx = createEndpoint(testConfig(random, overrides));
  const rx = createEndpoint(testConfig(random, overrides));
  const seen = new Map<number, Uint8Array[]>();
  let dataCount = 0;
  const deliver = (to: Endpoint, dg: Uint8Array, nowMs: number) => {
    // The header as the driver has it (a keyed channel's comes from the opened datagram, not checked against a CRC).
    const withCrc = Buffer.from(dg);
    withCrc.writeUInt32BE(datagramChecksum(withCrc, 0, withCrc.length - 32), CRC_OFFSET);
    const d = decodeHeader(withCrc);
    if (!d.ok) throw new Error(`undecodable: ${d.reason}`);
    to.handleDatagram(nowMs, dg, d.header, { address: '198.18.0.1', port: to === rx ? 1 : 2 });
  };
  for (let nowMs = 0; nowMs < 400; nowMs++) {
    if (nowMs < 100) {
      for (let i = 0; i < 10; i++) tx.send(nowMs, 0, Buffer.alloc(nowMs % 7 === 0 ? 3000 : 100, i));
      tx.flush(nowMs);
    }
    for (const [from, to] of [[tx, rx], [rx, tx]] as const) {
      if ((from.pollTimeout() ?? Infinity) <= nowMs) from.handleTimeout(nowMs);
      for (let dg = from.pollTransmit(nowMs); dg !== undefined; dg = from.pollTransmit(nowMs)) {
        const copy = Uint8Array.from(dg);
        const type = copy[3]!;
        seen.set(type, [...(seen.get(type) ?? []), copy]);
        if (type === DatagramType.DATA && (copy[4]! & DataFlag.REPAIR) === 0 && ++dataCount % 5 === 0) continue;
        deliver(to, copy, nowMs);
      }
      while (from.pollEvent() !== undefined);
    }
  }
  return seen;
}

const crcOf = (dg: Uint8Array) => Buffer.from(dg.buffer, dg.byteOffset, dg.length).readUInt32BE(CRC_OFFSET);

test('by default every datagram of every type carries a valid CRC32C', (t) => {
  const seen = exchange(undefined);
  t.true((seen.get(DatagramType.DATA) ?? []).some((dg) => (dg[4]! & DataFlag.REPAIR) !== 0), 'no repair was sent');
  for (const type of [DatagramType.DATA, DatagramType.HEARTBEAT, DatagramType.NAK, DatagramType.STATUS, DatagramType.NCF]) t.true((seen.get(type)?.length ?? 0) > 0, `no datagram of type ${type}`);
  for (const dgs of seen.values()) for (const dg of dgs) t.is(crcOf(dg), datagramChecksum(dg, 0, dg.length - 32));
});

test('with checksum false no datagram computes the CRC: the field stays 0, repairs included', (t) => {
  const seen = exchange(false);
  const data = seen.get(DatagramType.DATA) ?? [];
  t.true(data.some((dg) => (dg[4]! & DataFlag.REPAIR) !== 0), 'no repair was sent');
  for (const type of [DatagramType.HEARTBEAT, DatagramType.NAK, DatagramType.STATUS, DatagramType.NCF]) t.true((seen.get(type)?.length ?? 0) > 0, `no datagram of type ${type}`);
  for (const dgs of seen.values()) for (const dg of dgs) t.is(crcOf(dg), 0);
});
