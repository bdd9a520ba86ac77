/**
 * NAK suppression at scale (issue 17, item 2): one sender and N receivers of
 * the real protocol core on the simulated network of test/helpers/sim.ts
 * (virtual time, seeded: the numbers depend on the seed, not the machine).
 *
 *   node dist/bench/nak-sim.js [--receivers 1000] [--messages 3000] [--seed 1] [--json]
 *
 * After a warm-up in which the receivers hear each other's STATUS (their
 * group-size estimate, which the NAK back-off scales with), two cases:
 *
 * - shared loss: 10 % of the sender's original data datagrams are lost for
 *   every receiver at once. Reported: NAKs reaching the sender per lost
 *   datagram (the target is ≤ 2), repairs per lost datagram.
 * - independent loss: each delivery to each receiver is lost with 1 %
 *   probability. Reported: repair datagrams per original datagram, NAKs per
 *   repair, NAKs per lost delivery, and the sender's CPU per repair (the time
 *   its endpoint spends handling NAKs and transmitting repair datagrams,
 *   measured, divided by the repairs it sent).
 *
 * Both report the receivers' group-size estimate of the sender (min / median /
 * max against the truth) and whether every receiver got every message.
 */

import { parseArgs } from 'node:util';
import type { HealthReader } from '../src/protocol/api';
import { DataFlag } from '../src/protocol/payload';
import { decodeHeader } from '../src/wire/decode';
import { DatagramType } from '../src/wire/header';
import { message, Sim, sourceIdOf, type SimNode } from '../test/helpers/sim';

const { values } = parseArgs({
  options: {
    receivers: { type: 'string', default: '1000' },
    messages: { type: 'string', default: '3000' },
    seed: { type: 'string', default: '1' },
    json: { type: 'boolean', default: false },
  },
});
const N = Number(values.receivers);
const M = Number(values.messages);
const seed = Number(values.seed);

interface CaseResult {
  case: 'shared' | 'independent';
  receivers: number;
  messages: number;
  originals: number;
  lostDatagrams: number;
  naksAtSender: number;
  naksSent: number;
  repairs: number;
  naksPerLoss: number;
  repairsPerOriginal: number;
  naksPerRepair: number;
  senderUsPerRepair: number;
  groupSize: { min: number; median: number; max: number };
  allDelivered: boolean;
  virtualMs: number;
  wallMs: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? 0 : s[Math.floor(s.length / 2)]!;
}

function runCase(kind: 'shared' | 'independent'): CaseResult {
  const wall = performance.now();
  const sim = new Sim({ seed, link: { delayMs: 0.1, jitterMs: 0.02 } });
  const sender = sim.add('sender');
  const delivered = new Map<SimNode, number>();
  const receivers = Array.from({ length: N }, (_, i) => {
    const r = sim.add(`r${i}`, { lateJoin: 'earliest' });
    delivered.set(r, 0);
    r.onEvent = (e) => {
      if (e.type === 'messages') delivered.set(r, delivered.get(r)! + e.count);
      else if (e.type === 'message') delivered.set(r, delivered.get(r)! + 1);
    };
    return r;
  });
  // The sender's CPU: its endpoint's input and output calls, timed.
  let senderNs = 0n;
  const ep = sender.ep;
  const handle = ep.handleDatagram.bind(ep);
  const poll = ep.pollTransmit.bind(ep);
  // Only the repair work: handling NAKs (queueing repairs, NCFs) and transmitting repair datagrams.
  ep.handleDatagram = (nowMs, dg, h, from) => {
    if (h.type !== DatagramType.NAK) return handle(nowMs, dg, h, from);
    const t = process.hrtime.bigint();
    handle(nowMs, dg, h, from);
    senderNs += process.hrtime.bigint() - t;
  };
  ep.pollTransmit = (nowMs) => {
    const t = process.hrtime.bigint();
    const dg = poll(nowMs);
    const spent = process.hrtime.bigint() - t;
    if (dg !== undefined) {
      const h = decodeHeader(dg);
      if (h.ok && h.header.type === DatagramType.DATA && (h.header.flags & DataFlag.REPAIR) !== 0) senderNs += spent;
    }
    return dg;
  };
  const write = (from: number, count: number, startMs: number): void => {
    for (let i = 0; i < count; i += 10) {
      const first = from + i;
      const end = from + Math.min(count, i + 10);
      sim.at(startMs + i / 10, () => sim.write(sender, 0, Array.from({ length: end - first }, (_, k) => message(first + k))));
    }
  };
  // Warm-up: 100 messages over 10 ms, then 400 ms of status rounds so that every receiver knows the others.
  write(0, 100, 1);
  sim.runUntil(400);
  const before = { naks: sender.ep.stats().naksReceived, repairs: sender.ep.stats().repairsSent, naksSent: receivers.reduce((n, r) => n + r.ep.stats().naksSent, 0) };
  senderNs = 0n;
  let originals = 0;
  let lost = 0;
  sim.filter = (from, to, h) => {
    if (from !== sender || h.type !== DatagramType.DATA || (h.flags & DataFlag.REPAIR) !== 0) return true;
    if (kind === 'shared') {
      if (to !== undefined) return true;
      originals++;
      if (sim.rng() < 0.1) {
        lost++;
        return false;
      }
      return true;
    }
    if (to === undefined) {
      originals++;
      return true;
    }
    if (sim.rng() < 0.01) {
      lost++;
      return false;
    }
    return true;
  };
  write(100, M, 401);
  const total = 100 + M;
  const done = sim.runWhile(() => receivers.some((r) => delivered.get(r)! < total), 60_000, 5);
  const stats = sender.ep.stats();
  const naksAtSender = stats.naksReceived - before.naks;
  const repairs = stats.repairsSent - before.repairs;
  const naksSent = receivers.reduce((n, r) => n + r.ep.stats().naksSent, 0) - before.naksSent;
  const id = sourceIdOf(sender);
  const sizes = receivers.map((r) => (r.ep as unknown as HealthReader).sourceHealth(sim.nowMs).find((s) => s.source.id === id)?.groupSize ?? 0);
  return {
    case: kind, receivers: N, messages: M, originals, lostDatagrams: lost, naksAtSender, naksSent, repairs,
    naksPerLoss: lost === 0 ? 0 : naksAtSender / lost,
    repairsPerOriginal: originals === 0 ? 0 : repairs / originals,
    naksPerRepair: repairs === 0 ? 0 : naksAtSender / repairs,
    senderUsPerRepair: repairs === 0 ? 0 : Number(senderNs) / 1000 / repairs,
    groupSize: { min: Math.min(...sizes), median: median(sizes), max: Math.max(...sizes) },
    allDelivered: done,
    virtualMs: sim.nowMs,
    wallMs: performance.now() - wall,
  };
}

const results = [runCase('shared'), runCase('independent')];
if (values.json === true) {
  console.log(JSON.stringify(results));
} else {
  console.log(`NAK suppression, ${N} receivers, ${M} × 64-byte messages after a warm-up, seed ${seed} (virtual time; sender CPU measured)\n`);
  const rows = [
    ['case', 'originals', 'lost (datagrams / deliveries)', 'NAKs at sender', 'NAKs per loss', 'repairs', 'repairs per original', 'NAKs per repair', 'sender µs per repair', 'group size min / median / max', 'all delivered', 'virtual / wall s'],
    ...results.map((r) => [
      r.case, String(r.originals), String(r.lostDatagrams), String(r.naksAtSender), r.naksPerLoss.toFixed(3), String(r.repairs), r.repairsPerOriginal.toFixed(3),
      r.naksPerRepair.toFixed(2), r.senderUsPerRepair.toFixed(1), `${r.groupSize.min} / ${r.groupSize.median} / ${r.groupSize.max} (truth ${N})`,
      r.allDelivered ? 'yes' : 'NO', `${(r.virtualMs / 1000).toFixed(1)} / ${(r.wallMs / 1000).toFixed(1)}`,
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  for (const row of rows) console.log(`| ${row.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`);
}
