/**
 * 'min' flow control and a member the sender learns of late (the sender is
 * the newcomer, or the member's announce and first STATUS were lost): the
 * member may have been receiving the stream for a while, so the sender must
 * not assume it holds everything sent so far. Found with examples/health.ts:
 * two live members lost 20,000–60,000 messages ('flow-control') because the
 * sender, learning of them after a burst, took them for having everything
 * and evicted what they still needed.
 */

import test from 'ava';
import type { Endpoint, EndpointConfig, ProtocolEvent, SourceInfo } from '../src/protocol/api';
import { createEndpoint } from '../src/protocol/endpoint';
import { createRandom } from '../src/util/random';
import { decodeHeader } from '../src/wire/decode';
import { DatagramType } from '../src/wire/header';

function config(sessionLo: number, extra: Partial<EndpointConfig> = {}): EndpointConfig {
  const rng = createRandom(sessionLo);
  return {
    sessionHi: 7, sessionLo, maxDatagramBytes: 1472, windowBytes: 32 * 1024, windowMessages: 1 << 20, rateBytesPerSec: undefined,
    flowControl: 'min', lateJoin: 'earliest', maxMessageBytes: 1 << 20, maxReorderBytes: 1 << 24, maxReassemblyBytes: 1 << 24,
    random: () => rng.next(), openedAtMs: 0, ...extra,
  };
}

/** Delivers every datagram `from` has to send to `to` (unless `keep` says no). */
function pump(nowMs: number, from: Endpoint, to: Endpoint, fromAddress: string, keep: (type: number, i: number) => boolean): void {
  let i = 0;
  for (let dg = from.pollTransmit(nowMs); dg !== undefined; dg = from.pollTransmit(nowMs)) {
    const h = decodeHeader(dg);
    if (!h.ok) continue;
    if (keep(h.header.type, i++)) to.handleDatagram(nowMs, dg, h.header, { address: fromAddress, port: 5000 });
  }
}

test("a member the 'min' sender learns of after a burst keeps everything it may still need: no loss", (t) => {
  const a = createEndpoint(config(1));
  const b = createEndpoint(config(2));
  const bInfo: SourceInfo = { id: '0000000700000002', address: '10.0.0.2', port: 5000 };
  const N = 2000; // 100-byte messages: about 6 windows
  let sent = 0;
  let delivered = 0;
  const losses: ProtocolEvent[] = [];
  for (let now = 0; now <= 5000; now++) {
    // A writer that respects back-pressure: at most 100 messages a millisecond.
    for (let k = 0; k < 100 && sent < N; k++) if (!a.send(now, 0, Buffer.alloc(100, sent++ & 0xff))) break;
    a.flush(now);
    a.handleTimeout(now);
    // The first 20 ms: one data datagram in 5 never reaches b (b will need repairs).
    pump(now, a, b, '10.0.0.1', (type, i) => now >= 20 || type !== DatagramType.DATA || i % 5 !== 4);
    b.handleTimeout(now);
    // b's STATUS and NAKs reach a only from 50 ms on; the membership tells a about b at 10 ms.
    pump(now, b, a, '10.0.0.2', () => now >= 50);
    if (now === 10) a.expectReceiver(now, bInfo);
    for (let e = b.pollEvent(); e !== undefined; e = b.pollEvent()) {
      if (e.type === 'messages') delivered += e.count;
      else if (e.type === 'message') delivered++;
      else if (e.type === 'loss') losses.push(e);
    }
    while (a.pollEvent() !== undefined);
    if (delivered === N) break;
  }
  t.deepEqual(losses, []);
  t.is(delivered, N);
});
