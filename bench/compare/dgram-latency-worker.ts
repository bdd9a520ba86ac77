/**
 * Raw node:dgram's round trip for bench:compare's latency table
 * (latency.ts): the floor under every Node row, one datagram per message
 * and nothing else. One JSON argument ({@link DgramLatencyConfig}); prints
 * `{"ready":true}` once its sockets are open, then one JSON result line (the
 * ping only), and exits.
 *
 *   node dist/bench/compare/dgram-latency-worker.js '{"role":"ping",...}'
 *
 * Roles, as for bench/latency-worker.ts:
 * - `ping`: sends 64 B datagrams to group A at `rate` per second, each
 *   carrying its send time, after warm-up datagrams until one came back;
 *   reads the echoes on group B and records now − send time of each,
 *   discarding those sent in the first `warmupMs`.
 * - `echo`: reads group A and sends every datagram unchanged to group B,
 *   until killed (or 120 s).
 *
 * Sockets: a receiving socket bound to its group address and port (so it
 * gets that group only) that joins the group on the lab interface, and a
 * sending socket bound to the lab interface's address, multicast TTL
 * `ttl`, multicast loopback off. Nothing is repaired: a lost datagram is a
 * missing echo.
 *
 * Datagram layout (little-endian), as bench/latency-worker.ts: u32 index,
 * u32 unused, f64 send time µs (process.hrtime, CLOCK_MONOTONIC), filler.
 */

import { createSocket, type Socket } from 'node:dgram';
import type { LatencyConfig } from '../latency-worker';
import { bindSocket, runWorkerRole } from '../worker-main';

/** blipcast's round-trip settings (bench/latency-worker.ts), without loss emulation: `iface` is the lab host's interface address, through which alone it joins and sends. */
export type DgramLatencyConfig = Omit<LatencyConfig, 'role' | 'emulatedLoss'> & { role: 'ping' | 'echo' };

export interface DgramPingResult { role: 'ping'; sent: number; received: number; rttUs: number[] }

const WARMUP_INDEX = 0xffffffff;
/** The echo's end if nobody kills it: far beyond any round-trip run. */
const ECHO_MAX_MS = 120_000;

function nowUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}


/** A socket that receives `group`:`port` on the interface `iface` only. */
async function receiver(group: string, port: number, iface: string): Promise<Socket> {
  const sock = createSocket({ type: 'udp4', reuseAddr: true });
  // Bound to the group address: this group's datagrams only (IP_MULTICAST_ALL cannot be turned off from node:dgram).
  await bindSocket(sock, port, group);
  sock.addMembership(group, iface);
  return sock;
}

/** A socket that sends multicast out of `iface` with TTL `ttl`, not looped back to this host. */
async function sender(iface: string, ttl: number): Promise<Socket> {
  const sock = createSocket({ type: 'udp4' });
  await bindSocket(sock, 0, iface);
  sock.setMulticastInterface(iface);
  sock.setMulticastTTL(ttl);
  sock.setMulticastLoopback(false);
  return sock;
}

function stamp(buf: Buffer, index: number): Buffer {
  buf.writeUInt32LE(index, 0);
  buf.writeDoubleLE(nowUs(), 8);
  return buf;
}

async function ping(cfg: DgramLatencyConfig): Promise<void> {
  const rx = await receiver(cfg.groupB, cfg.portB, cfg.iface);
  const tx = await sender(cfg.iface, cfg.ttl);
  const buf = Buffer.alloc(cfg.size, 0x64);
  let echoes = 0;
  let received = 0;
  let timedFromUs = Infinity;
  const rtt: number[] = [];
  rx.on('message', (m) => {
    const now = nowUs();
    if (m.length < 16) return;
    if (m.readUInt32LE(0) === WARMUP_INDEX) {
      echoes++;
      return;
    }
    received++;
    const sentUs = m.readDoubleLE(8);
    if (sentUs >= timedFromUs) rtt.push(now - sentUs);
  });
  process.stdout.write('{"ready":true}\n');
  // Both directions are up once a warm-up datagram came back.
  for (let tries = 0; echoes === 0 && tries < 500; tries++) {
    tx.send(stamp(buf, WARMUP_INDEX), cfg.port, cfg.groupA);
    await sleep(20);
  }
  if (echoes === 0) throw new Error('no echo within 10 s');
  await sleep(100);
  timedFromUs = nowUs() + cfg.warmupMs * 1000;
  // Paced as bench/latency-worker.ts: a late timer sends what is due, so the average rate holds.
  const t0 = performance.now();
  const total = Math.round((cfg.rate * (cfg.durationMs + cfg.warmupMs)) / 1000);
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - t0) * cfg.rate) / 1000) + 1);
    while (sent < due) tx.send(stamp(buf, sent++), cfg.port, cfg.groupA);
    await sleep(Math.max(0, t0 + (sent * 1000) / cfg.rate - performance.now()));
  }
  await sleep(500);
  rx.close();
  tx.close();
  const result: DgramPingResult = { role: 'ping', sent, received, rttUs: rtt };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

async function echo(cfg: DgramLatencyConfig): Promise<void> {
  const rx = await receiver(cfg.groupA, cfg.port, cfg.iface);
  const tx = await sender(cfg.iface, cfg.ttl);
  rx.on('message', (m) => tx.send(m, cfg.portB, cfg.groupB));
  process.stdout.write('{"ready":true}\n');
  await sleep(ECHO_MAX_MS);
  rx.close();
  tx.close();
}

runWorkerRole<DgramLatencyConfig>({ ping, echo } as Record<string, (cfg: DgramLatencyConfig) => Promise<void>>);
