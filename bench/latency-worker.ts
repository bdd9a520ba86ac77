/**
 * One process of the latency part of the reliable-delivery benchmark
 * (bench/reliable.ts). One JSON argument ({@link LatencyConfig}); prints
 * `{"ready":true}` once open, then one JSON line of results, and exits.
 *
 * Roles:
 * - `ping`: writes 64-byte messages on group A at `rate` per second for
 *   `durationMs`, each carrying its send time; reads the echoes on group B and
 *   records each round trip.
 * - `echo`: reads group A and writes every message unchanged on group B.
 * - `oneway-send`: writes timestamped messages on group A at `rate` per second.
 * - `oneway-recv`: reads them (its host loses 1 % of what arrives) and records
 *   one-way latency, split into messages that arrived in an original datagram
 *   and messages that only arrived in a repair (see {@link observeOriginals}).
 *
 * Timestamps are `process.hrtime()` (CLOCK_MONOTONIC) in µs: network
 * namespaces share that clock, so a send time from one lab host compares
 * with a receive time on another.
 *
 * Message layout (little-endian): u32 index, u32 unused, f64 send time µs, filler.
 */

import { open, type Channel } from '../src/api/channel';
import type { MessageBatch } from '../src/api/message-batch';
import { DataFlag, parsePacked } from '../src/protocol/payload';
import { withLoss } from '../src/transport/index';
import type { Transport } from '../src/transport/transport';
import { DatagramType, emptyHeader } from '../src/wire/header';
import { decodeHeaderInto } from '../src/wire/decode';
import { Reject } from '../src/wire/rejects';
import { runWorkerRole } from './worker-main';

export interface LatencyConfig {
  role: 'ping' | 'echo' | 'oneway-send' | 'oneway-recv';
  groupA: string;
  groupB: string;
  port: number;
  /** Port of group B (a different port too, so the two channels of one process share nothing). */
  portB: number;
  iface: string;
  ttl: number;
  /** Messages per second (ping, oneway-send). */
  rate: number;
  durationMs: number;
  /** Samples from the first warmupMs of the timed part are discarded (ping). */
  warmupMs: number;
  size: number;
  /** Receive-side loss injected in this process (loopback runs only; the lab uses nftables). */
  emulatedLoss: number;
}

export interface PingResult { role: 'ping'; sent: number; received: number; rttUs: number[] }
export interface OnewayResult {
  role: 'oneway-recv';
  delivered: number;
  /** One-way latency (µs) of messages that arrived in an original datagram. */
  directUs: number[];
  /** One-way latency (µs) of messages that only arrived in a repair. */
  repairedUs: number[];
  reportedLost: number;
  protocol: Record<string, number>;
}

const WARMUP_INDEX = 0xffffffff;
const END_INDEX = 0xfffffffe;

function nowUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

function print(obj: unknown): void {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function openOn(cfg: LatencyConfig, group: string, port: number, wrap?: (t: Transport) => Transport): Promise<Channel> {
  const lossy = cfg.emulatedLoss > 0 ? (t: Transport): Transport => withLoss(t, { lossRate: cfg.emulatedLoss, seed: process.pid }) : undefined;
  const wrapTransport = lossy && wrap ? (t: Transport) => wrap(lossy(t)) : (lossy ?? wrap);
  return open({ group: `${group}:${port}`, interface: cfg.iface, ttl: cfg.ttl, lateJoin: 'earliest', lingerMs: 2000, ...(wrapTransport ? { wrapTransport } : {}) });
}

/**
 * Calls `tick(n)` with the number of messages due so that `rate` per second
 * leave over `durationMs` (timers fire late under load: a late tick sends
 * what is due, so the average rate holds). Resolves with the number sent.
 */
async function paced(rate: number, durationMs: number, tick: (index: number) => void): Promise<number> {
  const t0 = performance.now();
  const total = Math.round((rate * durationMs) / 1000);
  let i = 0;
  while (i < total) {
    const due = Math.min(total, Math.floor(((performance.now() - t0) * rate) / 1000) + 1);
    while (i < due) tick(i++);
    const nextAtMs = t0 + (i * 1000) / rate;
    await sleep(Math.max(0, nextAtMs - performance.now()));
  }
  return i;
}

function stamp(buf: Buffer, index: number): Buffer {
  buf.writeUInt32LE(index, 0);
  buf.writeDoubleLE(nowUs(), 8);
  return buf;
}

async function ping(cfg: LatencyConfig): Promise<void> {
  const a = await openOn(cfg, cfg.groupA, cfg.port);
  const b = await openOn(cfg, cfg.groupB, cfg.portB);
  const buf = Buffer.alloc(cfg.size, 0x62);
  let echoes = 0;
  let received = 0;
  let timedFromUs = Infinity;
  const rtt: number[] = [];
  // The batch read API ('messages'), as the throughput rows use: no stream between the channel and the listener.
  b.on('messages', (batch: MessageBatch) => {
    const now = nowUs();
    for (let i = 0; i < batch.count; i++) {
      const data = batch.data(i);
      const index = data.readUInt32LE(0);
      if (index === WARMUP_INDEX) {
        echoes++;
        continue;
      }
      if (index === END_INDEX) continue;
      received++;
      const sentUs = data.readDoubleLE(8);
      if (sentUs >= timedFromUs) rtt.push(now - sentUs);
    }
  });
  print({ ready: true });
  // Both directions are up once a warm-up message came back.
  for (let tries = 0; echoes === 0 && tries < 500; tries++) {
    a.write(stamp(buf, WARMUP_INDEX));
    await sleep(20);
  }
  if (echoes === 0) throw new Error('no echo within 10 s');
  await sleep(100);
  timedFromUs = nowUs() + cfg.warmupMs * 1000;
  const sent = await paced(cfg.rate, cfg.durationMs + cfg.warmupMs, (i) => a.write(stamp(buf, i)));
  await sleep(500);
  a.write(stamp(buf, END_INDEX));
  await Promise.all([a.close(), b.close()]);
  const result: PingResult = { role: 'ping', sent, received, rttUs: rtt };
  print(result);
}

async function echo(cfg: LatencyConfig): Promise<void> {
  const a = await openOn(cfg, cfg.groupA, cfg.port);
  const b = await openOn(cfg, cfg.groupB, cfg.portB);
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  a.on('messages', (batch: MessageBatch) => {
    for (let i = 0; i < batch.count; i++) {
      const data = batch.data(i);
      b.write(data);
      if (data.readUInt32LE(0) === END_INDEX) done();
    }
  });
  print({ ready: true });
  const timeout = setTimeout(done, 120_000);
  await finished;
  clearTimeout(timeout);
  await Promise.all([a.close(), b.close()]);
  print({ role: 'echo' });
}

async function onewaySend(cfg: LatencyConfig): Promise<void> {
  const a = await openOn(cfg, cfg.groupA, cfg.port);
  let receivers = 0;
  a.on('receiver', () => receivers++);
  print({ ready: true });
  const buf = Buffer.alloc(cfg.size, 0x63);
  for (let tries = 0; receivers === 0 && tries < 500; tries++) {
    a.write(stamp(buf, WARMUP_INDEX));
    await sleep(20);
  }
  const sent = await paced(cfg.rate, cfg.durationMs, (i) => a.write(stamp(buf, i)));
  a.write(stamp(buf, END_INDEX));
  await a.close();
  const s = a.stats().protocol;
  print({ role: 'oneway-send', sent, repairsSent: s.repairsSent, naksReceived: s.naksReceived });
}

/**
 * Wraps the transport to record, per source session and stream, which
 * sequence numbers arrived in an ORIGINAL data datagram (no REPAIR flag). A
 * message whose number is not recorded when it is delivered came only in a
 * repair: its original datagram was lost. Exact, unlike guessing from latency.
 */
function observeOriginals(originals: Set<string>): (t: Transport) => Transport {
  const header = emptyHeader();
  const offsets: number[] = [];
  const lengths: number[] = [];
  return (t) => {
    const wrapped: Transport = {
      kind: t.kind,
      get info() {
        return t.info;
      },
      receive: (handler) => t.receive((batch) => {
        for (let i = 0; i < batch.count; i++) {
          const off = batch.offsets[i]!;
          const len = batch.lengths[i]!;
          if (decodeHeaderInto(batch.buffer, off, len, header) !== Reject.OK) continue;
          if (header.type !== DatagramType.DATA || (header.flags & DataFlag.REPAIR) !== 0) continue;
          const n = (header.flags & DataFlag.FRAGMENT) !== 0 ? 1 : parsePacked(batch.buffer, off + 32, off + len, offsets, lengths);
          for (let k = 0; k < n; k++) originals.add(`${header.sessionHi}:${header.sessionLo}:${header.streamId}:${header.sequence + k}`);
        }
        handler(batch);
      }),
      send: (d) => t.send(d),
      close: () => t.close(),
      stats: () => t.stats(),
      onError: (l) => t.onError(l),
    };
    return wrapped;
  };
}

async function onewayRecv(cfg: LatencyConfig): Promise<void> {
  const originals = new Set<string>();
  const a = await openOn(cfg, cfg.groupA, cfg.port, observeOriginals(originals));
  let reportedLost = 0;
  a.on('loss', (l) => (reportedLost += l.toSeq - l.fromSeq + 1));
  const direct: number[] = [];
  const repaired: number[] = [];
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  a.on('messages', (batch: MessageBatch) => {
    const now = nowUs();
    // The source id is the session as 16 hex digits: rebuild the key the observer used.
    const hi = parseInt(batch.source.id.slice(0, 8), 16);
    const lo = parseInt(batch.source.id.slice(8), 16);
    for (let i = 0; i < batch.count; i++) {
      const data = batch.data(i);
      const index = data.readUInt32LE(0);
      if (index === END_INDEX) done();
      if (index === WARMUP_INDEX || index === END_INDEX) continue;
      const latency = now - data.readDoubleLE(8);
      const key = `${hi}:${lo}:0:${batch.seq(i)}`;
      if (originals.has(key)) direct.push(latency);
      else repaired.push(latency);
      originals.delete(key);
    }
  });
  print({ ready: true });
  const timeout = setTimeout(done, 120_000);
  await finished;
  clearTimeout(timeout);
  const s = a.stats().protocol;
  await sleep(200);
  await a.close();
  const result: OnewayResult = { role: 'oneway-recv', delivered: direct.length + repaired.length, directUs: direct, repairedUs: repaired, reportedLost, protocol: { naksSent: s.naksSent, repairsReceived: s.repairsReceived, duplicates: s.duplicates } };
  print(result);
}

runWorkerRole<LatencyConfig>({ ping, echo, 'oneway-send': onewaySend, 'oneway-recv': onewayRecv } as Record<string, (cfg: LatencyConfig) => Promise<void>>);
