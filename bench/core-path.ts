/**
 * Hot-path micro-benchmark of the sans-IO protocol core, in one process, no
 * sockets: what one message costs the sender from send() to a datagram out of
 * pollTransmit(), and the receiver from a decoded datagram to its 'message'
 * event. The lab benchmarks measure the whole
 * system; this one isolates the core so that a change to the receive hot path
 * can be compared before/after on a noisy machine (CPU time, median of runs).
 *
 *   npm run build && node dist/bench/core-path.js [--runs N]
 *
 * A sender endpoint packs `count` messages into datagrams once (in order, no
 * loss; and variants where every 100th datagram arrives 3 or 300 datagrams
 * late, like a repair: with 300, most messages wait in the reorder buffer,
 * as at 1 % loss on a fast stream); each run feeds them to a fresh receiver
 * endpoint and drains its events. The send rows are measured with and
 * without the header CRC (a keyed channel leaves it out: its seal overwrites
 * the field). The last rows ask pollTimeout() after each datagram as the
 * driver does, first with the one source, then with 1000 idle sources tracked
 * as well (each started a stream and delivered one message): what a flood of
 * quiet fake sessions costs every turn.
 */

import { parseArgs } from 'node:util';
import { createEndpoint } from '../src/protocol/endpoint';
import type { Endpoint, EndpointConfig } from '../src/protocol/api';
import { encodeHeartbeat } from '../src/protocol/payload';
import { DatagramType, emptyHeader, encodeDatagram, type Header } from '../src/wire/header';
import { decodeHeader, decodeHeaderInto } from '../src/wire/decode';
import { Reject } from '../src/wire/rejects';
import { createRandom } from '../src/util/random';
import { formatTable, median } from './table';

function config(sessionLo: number, checksum = true): EndpointConfig {
  const rng = createRandom(sessionLo);
  const random = (): number => rng.next();
  return {
    sessionHi: 1, sessionLo, maxDatagramBytes: 1472, windowBytes: 1 << 30, windowMessages: 1 << 24, rateBytesPerSec: undefined,
    flowControl: 'none', lateJoin: 'earliest', maxMessageBytes: 1 << 24, maxReorderBytes: 1 << 30, maxReassemblyBytes: 1 << 26, random, checksum,
  };
}

interface Prepared {
  datagrams: Uint8Array[];
  headers: Header[];
}

/** `lateBy` 0: in order; else every 100th datagram arrives `lateBy` datagrams late (like a repair). */
function prepare(size: number, count: number, lateBy: number): Prepared {
  const tx = createEndpoint(config(7));
  const msg = new Uint8Array(size).fill(0x61);
  const datagrams: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    tx.send(0, 0, msg);
    if (i % 256 === 255) tx.flush(0);
  }
  tx.flush(0);
  let d: Uint8Array | undefined;
  while ((d = tx.pollTransmit(0)) !== undefined) datagrams.push(d.slice());
  const data = datagrams.filter((dg) => dg[3] === 1);
  // A heartbeat first: it tells the receiver ('earliest') where the stream starts.
  tx.handleTimeout(1000);
  while ((d = tx.pollTransmit(1000)) !== undefined) if (d[3] === 2) data.unshift(d.slice());
  if (lateBy > 0) {
    for (let i = 100; i + 3 < data.length; i += 100) {
      const late = data[i]!;
      data.splice(i, 1);
      data.splice(Math.min(i + lateBy, data.length), 0, late);
    }
  }
  const headers = data.map((dg) => {
    const h = emptyHeader();
    if (decodeHeaderInto(dg, 0, dg.length, h) !== Reject.OK) throw new Error('bad datagram');
    return h;
  });
  return { datagrams: data, headers };
}

/** CPU nanoseconds per message for a fresh sender to pack `count` messages of `size` bytes (256 per turn) and hand out their datagrams (without their CRC when not `checksum`, as a keyed channel sends). */
function sendRun(size: number, count: number, checksum = true): number {
  const tx = createEndpoint(config(7, checksum));
  const msg = new Uint8Array(size).fill(0x61);
  let datagrams = 0;
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < count; i++) {
    tx.send(0, 0, msg);
    if (i % 256 === 255) {
      tx.flush(0);
      while (tx.pollTransmit(0) !== undefined) datagrams++;
    }
  }
  tx.flush(0);
  while (tx.pollTransmit(0) !== undefined) datagrams++;
  const cpu = process.cpuUsage(cpu0);
  if (datagrams === 0) throw new Error('no datagrams');
  return ((cpu.user + cpu.system) * 1000) / count;
}

/** Makes `rx` track `count` quiet sources: each starts stream 0 and delivers one message. */
function addIdleSources(rx: Endpoint, count: number): void {
  for (let i = 0; i < count; i++) {
    const origin = { sessionHi: 2, sessionLo: i };
    const from = { address: '198.18.0.2', port: 1000 + i };
    const msg = Buffer.from([0, 1, 0x61]);
    for (const dg of [encodeHeartbeat(origin, 0, [{ streamId: 0, trailSeq: 0, nextSeq: 0, ageMs: 0 }]), encodeDatagram({ type: DatagramType.DATA, flags: 0, keyId: 0, streamId: 0, ...origin, sequence: 0 }, msg)]) {
      const d = decodeHeader(dg);
      if (!d.ok) throw new Error('bad datagram');
      rx.handleDatagram(1, dg, d.header, from);
    }
  }
  while (rx.pollEvent() !== undefined);
}

/** CPU nanoseconds per delivered message for one pass over `p` (with `idleSources` tracked; pollTimeout() after each datagram when `poll`). */
function run(p: Prepared, count: number, poll = false, idleSources = 0): number {
  const rx = createEndpoint(config(9));
  addIdleSources(rx, idleSources);
  const from = { address: '198.18.0.1', port: 1 };
  let delivered = 0;
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < p.datagrams.length; i++) {
    rx.handleDatagram(1, p.datagrams[i]!, p.headers[i]!, from);
    if (poll) rx.pollTimeout();
    let e;
    while ((e = rx.pollEvent()) !== undefined) {
      if (e.type === 'message') delivered++;
      else if (e.type === 'messages') delivered += e.count;
    }
  }
  const cpu = process.cpuUsage(cpu0);
  if (delivered !== count) throw new Error(`delivered ${delivered} of ${count}`);
  return ((cpu.user + cpu.system) * 1000) / count;
}

function main(): void {
  const { values } = parseArgs({ options: { runs: { type: 'string' } } });
  const runs = Number(values.runs ?? 9);
  const rows: string[][] = [];
  for (const size of [64, 1024]) {
    const count = size === 64 ? 1_000_000 : 200_000;
    for (const checksum of [true, false]) {
      sendRun(size, count, checksum); // warm-up (JIT)
      const ns: number[] = [];
      for (let i = 0; i < runs; i++) ns.push(sendRun(size, count, checksum));
      rows.push([`${size} B`, `send: send() → pollTransmit()${checksum ? '' : ', no CRC (keyed)'}`, '', median(ns).toFixed(0), `${Math.min(...ns).toFixed(0)}–${Math.max(...ns).toFixed(0)}`, (1e3 / median(ns)).toFixed(2)]);
    }
    for (const lateBy of [0, 3, 300]) {
      const count = size === 64 ? 1_000_000 : 200_000;
      const p = prepare(size, count, lateBy);
      run(p, count); // warm-up (JIT)
      const ns: number[] = [];
      for (let i = 0; i < runs; i++) ns.push(run(p, count));
      rows.push([`${size} B`, lateBy === 0 ? 'receive: in order' : `receive: 1 in 100 datagrams ${lateBy} late`, String(p.datagrams.length), median(ns).toFixed(0),
        `${Math.min(...ns).toFixed(0)}–${Math.max(...ns).toFixed(0)}`, (1e3 / median(ns)).toFixed(2)]);
    }

  }
  {
    const size = 64;
    const count = 1_000_000;
    const p = prepare(size, count, 0);
    for (const idle of [0, 1000]) {
      run(p, count, true, idle); // warm-up (JIT)
      const ns: number[] = [];
      for (let i = 0; i < runs; i++) ns.push(run(p, count, true, idle));
      rows.push([`${size} B`, `receive: in order + pollTimeout()${idle > 0 ? `, ${idle} idle sources` : ''}`, String(p.datagrams.length), median(ns).toFixed(0),
        `${Math.min(...ns).toFixed(0)}–${Math.max(...ns).toFixed(0)}`, (1e3 / median(ns)).toFixed(2)]);
    }
  }
  console.log(`hot paths of the protocol core (no sockets), node ${process.version}, median of ${runs} runs\n`);
  console.log(formatTable(['size', 'path', 'datagrams', 'ns/msg', 'min–max', 'M msgs/s per core'], rows));
}

main();
