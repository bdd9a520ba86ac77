/**
 * One process of the reliable-delivery throughput benchmark (bench/reliable.ts),
 * run on a lab host or on loopback. It takes one JSON argument (a
 * {@link WorkerConfig}), prints `{"ready":true}` once its socket is open, then
 * one JSON line with its measurements, and exits.
 *
 *   node dist/bench/reliable-worker.js '{"role":"send",...}'
 *
 * Roles:
 * - `send`: a blipcast channel that writes `count` messages of `size` bytes as
 *   fast as flow control lets it (stopping early after `maxSendMs`), then an
 *   end marker carrying the number sent, then close() (which waits until every
 *   receiver has acknowledged everything).
 * - `recv`: a blipcast channel that reads until the end marker (or `idleMs`
 *   without a message), checking every message: in order, exactly once.
 * - `dgram-send` / `dgram-recv`: the same with raw node:dgram, one datagram per
 *   message and no repair: the ceiling the reliable protocol is compared with.
 *
 * Message layout (little-endian): u32 index at 0, then filler. Index
 * {@link WARMUP_INDEX} is a warm-up message (the sender uses it to learn that
 * its receivers are there), {@link END_INDEX} is the end marker, whose
 * bytes 4..7 hold the number of messages sent.
 */

import { createSocket } from 'node:dgram';
import { open, type Channel, type Message } from '../src/api/channel';
import { withLoss } from '../src/transport/index';
import { bindSocket, runWorkerRole } from './worker-main';

export const WARMUP_INDEX = 0xffffffff;
export const END_INDEX = 0xfffffffe;

export interface WorkerConfig {
  role: 'send' | 'recv' | 'dgram-send' | 'dgram-recv';
  /** Group address without port (e.g. '239.255.42.1'). */
  group: string;
  port: number;
  /** Local interface address: lab host ipv4, or 127.0.0.1. */
  iface: string;
  ttl: number;
  /** Messages to send (send roles). */
  count: number;
  /** Message bytes. */
  size: number;
  /** Receivers the sender waits for before the timed part (send). */
  receivers: number;
  /** Stop writing after this long even if `count` is not reached (send roles). */
  maxSendMs: number;
  /** Receive side: give up after this long without a message once traffic started. */
  idleMs: number;
  /** Loss injected in this process on receive (loopback runs only; the lab drops with nftables). */
  emulatedLoss: number;
  /** Kernel socket buffer to ask for, bytes. */
  socketBufferBytes: number;
  /** Extra open() options for experiments (e.g. windowBytes), merged last. */
  extra?: Record<string, unknown>;
  /** Receive side: read with readable 'data' events (one per message, the default) or the batch API ('messages'). */
  api?: 'message' | 'batch';
  /** Sender: `write()` per message (default), or `writeMany()` of up to WRITE_MANY_CHUNK messages at a time. */
  writeApi?: 'write' | 'many';
}

export interface SendResult {
  role: 'send';
  sent: number;
  /** First timed write to the last write accepted. */
  writeMs: number;
  /** First timed write until close() resolved (every receiver acknowledged everything, or linger ran out). */
  totalMs: number;
  cpuSeconds: number;
  backPressured: number;
  receiversSeen: number;
  /** Peak RSS over the timed part, bytes. */
  peakRssBytes: number;
  protocol: Record<string, number>;
  transport: Record<string, number>;
}

export interface RecvResult {
  role: 'recv';
  /** Distinct timed messages delivered. */
  delivered: number;
  bytes: number;
  duplicates: number;
  outOfOrder: number;
  /** Messages reported lost by 'loss' events. */
  reportedLost: number;
  /** Number of messages the sender says it sent (from the end marker), or -1 when no marker arrived. */
  senderCount: number;
  /** First timed message to the last one, ms. */
  spanMs: number;
  /** CPU seconds of this process over the same span. */
  cpuSeconds: number;
  /** Peak RSS from the first timed message to the end, bytes. */
  peakRssBytes: number;
  protocol: Record<string, number>;
  transport: Record<string, number>;
  transportKind: string;
}

export interface DgramSendResult { role: 'dgram-send'; sent: number; writeMs: number; cpuSeconds: number; stalls: number }
export interface DgramRecvResult { role: 'dgram-recv'; delivered: number; bytes: number; spanMs: number; cpuSeconds: number; emulatedDrops: number }

/** Messages per writeMany() call with `writeApi: 'many'`. */
const WRITE_MANY_CHUNK = 256;

/** Messages written per event-loop turn before yielding (the channel packs one turn's writes). */
function messagesPerTurn(size: number): number {
  return Math.max(16, Math.floor((256 * 1024) / size));
}

function cpuSecondsSince(start: NodeJS.CpuUsage): number {
  const c = process.cpuUsage(start);
  return (c.user + c.system) / 1e6;
}

/** Highest resident set size seen, sampled every 100 ms from start() (steady-state memory of a run). */
class PeakRss {
  private peakBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  start(): void {
    this.peakBytes = process.memoryUsage.rss();
    this.timer ??= setInterval(() => this.sample(), 100);
  }
  sample(): void {
    this.peakBytes = Math.max(this.peakBytes, process.memoryUsage.rss());
  }
  stop(): number {
    this.sample();
    clearInterval(this.timer);
    this.timer = undefined;
    return this.peakBytes;
  }
}

function print(obj: unknown): void {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

function numbers(o: object): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(o)) if (typeof v === 'number') out[k] = v;
  return out;
}

async function openChannel(cfg: WorkerConfig, lingerMs: number): Promise<Channel> {
  return open({
    group: `${cfg.group}:${cfg.port}`,
    interface: cfg.iface,
    ttl: cfg.ttl,
    lateJoin: 'earliest',
    recvBufferBytes: cfg.socketBufferBytes,
    sendBufferBytes: cfg.socketBufferBytes,
    lingerMs,
    ...(cfg.emulatedLoss > 0 ? { wrapTransport: (t) => withLoss(t, { lossRate: cfg.emulatedLoss, seed: process.pid }) } : {}),
    ...cfg.extra,
  });
}

// ---------------------------------------------------------------- blipcast

async function send(cfg: WorkerConfig): Promise<void> {
  const ch = await openChannel(cfg, 30_000);
  ch.on('error', (err) => process.stderr.write(`send: ${err.message}\n`));
  let receiversSeen = 0;
  ch.on('receiver', () => receiversSeen++);
  print({ ready: true });

  // Warm-up: one message every 20 ms until every receiver has reported status, so the timed part starts with all of them known to flow control.
  const msg = Buffer.alloc(cfg.size, 0x61);
  msg.writeUInt32LE(WARMUP_INDEX, 0);
  const warmupDeadline = performance.now() + 15_000;
  while (receiversSeen < cfg.receivers && performance.now() < warmupDeadline) {
    ch.write(msg);
    await new Promise((r) => setTimeout(r, 20));
  }
  if (receiversSeen < cfg.receivers) process.stderr.write(`send: only ${receiversSeen} of ${cfg.receivers} receivers reported before the timed part\n`);
  await new Promise((r) => setTimeout(r, 50));

  const perTurn = messagesPerTurn(cfg.size);
  const rss = new PeakRss();
  rss.start();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let i = 0;
  let backPressured = 0;
  let stopAt = cfg.count;
  await new Promise<void>((resolve) => {
    const pool = cfg.writeApi === 'many' ? Array.from({ length: WRITE_MANY_CHUNK }, () => Buffer.alloc(cfg.size, 0x61)) : [];
    const pump = (): void => {
      if (performance.now() - t0 > cfg.maxSendMs) stopAt = i;
      const end = Math.min(stopAt, i + perTurn);
      while (cfg.writeApi === 'many' && i < end) {
        const n = Math.min(WRITE_MANY_CHUNK, end - i);
        const chunk = n === WRITE_MANY_CHUNK ? pool : pool.slice(0, n);
        for (let k = 0; k < n; k++) chunk[k]!.writeUInt32LE(i + k, 0);
        i += n;
        if (!ch.writeMany(chunk)) {
          backPressured++;
          ch.once('drain', pump);
          return;
        }
      }
      while (i < end) {
        msg.writeUInt32LE(i, 0);
        i++;
        if (!ch.write(msg)) {
          backPressured++;
          ch.once('drain', pump);
          return;
        }
      }
      if (i < stopAt) setImmediate(pump);
      else resolve();
    };
    pump();
  });
  const writeMs = performance.now() - t0;
  msg.writeUInt32LE(END_INDEX, 0);
  msg.writeUInt32LE(i, 4);
  ch.write(msg);
  await ch.close();
  const totalMs = performance.now() - t0;
  const cpuSeconds = cpuSecondsSince(cpu0);
  const peakRssBytes = rss.stop();
  const s = ch.stats();
  const result: SendResult = { role: 'send', sent: i, writeMs, totalMs, cpuSeconds, backPressured, receiversSeen, peakRssBytes, protocol: numbers(s.protocol), transport: numbers(s.transport) };
  print(result);
}

async function recv(cfg: WorkerConfig): Promise<void> {
  const ch = await openChannel(cfg, 0);
  ch.on('error', (err) => process.stderr.write(`recv: ${err.message}\n`));
  let reportedLost = 0;
  ch.on('loss', (l) => {
    reportedLost += l.toSeq - l.fromSeq + 1;
    process.stderr.write(`loss ${l.fromSeq}..${l.toSeq} ${l.reason}\n`);
  });
  const seen = new Uint8Array(cfg.count);
  let delivered = 0;
  let bytes = 0;
  let duplicates = 0;
  let outOfOrder = 0;
  let next = 0;
  let firstMs = 0;
  let lastMs = 0;
  let cpu0 = process.cpuUsage();
  let senderCount = -1;
  const rss = new PeakRss();
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));

  // The clock is read on the first message and on the end marker only (the end marker is written in the
  // same turn as the last message, so it is delivered right behind it): reading it per message cost ~7 % of
  // the receiver at 1.4 M msgs/s. The idle check notices progress at its own 50 ms granularity.
  const onMessage = (buf: Buffer, at: number, length: number): void => {
    const index = buf.readUInt32LE(at);
    if (index === WARMUP_INDEX) return;
    if (index === END_INDEX) {
      lastMs = performance.now();
      senderCount = buf.readUInt32LE(at + 4);
      done();
      return;
    }
    if (delivered === 0 && duplicates === 0) {
      firstMs = performance.now();
      cpu0 = process.cpuUsage();
      rss.start();
    }
    if (index >= seen.length || seen[index] === 1) {
      duplicates++;
      return;
    }
    seen[index] = 1;
    if (index !== next) outOfOrder++;
    next = index + 1;
    delivered++;
    bytes += length;
  };
  if (cfg.api === 'batch') {
    ch.on('messages', (batch) => {
      const buf = batch.buffer;
      for (let i = 0; i < batch.count; i++) onMessage(buf, batch.offset(i), batch.length(i));
    });
  } else {
    ch.readable.on('data', (m: Message) => onMessage(m.data, 0, m.data.length));
  }
  print({ ready: true });

  const started = performance.now();
  let progressAtMs = started;
  let lastCount = 0;
  const idle = setInterval(() => {
    const now = performance.now();
    if (delivered + duplicates !== lastCount) {
      lastCount = delivered + duplicates;
      progressAtMs = now;
      lastMs = now;
    }
    // Before traffic starts the sender may still be warming up: allow it longer.
    if (now - progressAtMs > (delivered > 0 ? cfg.idleMs : cfg.idleMs + 30_000)) done();
  }, 50);
  await finished;
  clearInterval(idle);
  // Up to the end marker (right behind the last message), or the idle timeout, during which the process is idle.
  const cpuSeconds = delivered > 0 ? cpuSecondsSince(cpu0) : 0;
  const peakRssBytes = rss.stop();
  const s = ch.stats();
  // Stay a moment so the sender hears this receiver's final status and its close() need not wait for the linger.
  await new Promise((r) => setTimeout(r, 300));
  await ch.close();
  const result: RecvResult = {
    role: 'recv', delivered, bytes, duplicates, outOfOrder, reportedLost, senderCount, spanMs: lastMs - firstMs, cpuSeconds, peakRssBytes,
    protocol: numbers(s.protocol), transport: numbers(s.transport), transportKind: ch.info.transport,
  };
  print(result);
}

// ---------------------------------------------------------------- node:dgram


async function dgramSend(cfg: WorkerConfig): Promise<void> {
  const sock = createSocket({ type: 'udp4' });
  await bindSocket(sock, 0, '0.0.0.0');
  sock.setMulticastInterface(cfg.iface);
  sock.setMulticastTTL(cfg.ttl);
  sock.setSendBufferSize(cfg.socketBufferBytes);
  // A connected socket sends synchronously (no lookup, no nextTick per datagram).
  await new Promise<void>((resolve) => sock.connect(cfg.port, cfg.group, resolve));
  print({ ready: true });
  // Give the receivers' joins a moment (they were ready before we started, but be safe).
  await new Promise((r) => setTimeout(r, 50));
  const msg = Buffer.alloc(cfg.size, 0x61);
  const perTurn = Math.min(messagesPerTurn(cfg.size), 256);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let stalls = 0;
  let i = 0;
  while (i < cfg.count && performance.now() - t0 < cfg.maxSendMs) {
    const end = Math.min(cfg.count, i + perTurn);
    for (; i < end; i++) {
      msg.writeUInt32LE(i, 0);
      sock.send(msg);
    }
    // node:dgram queues without limit when the kernel buffer is full: wait for the queue to drain instead.
    if (sock.getSendQueueSize() > 256 * 1024) {
      stalls++;
      while (sock.getSendQueueSize() > 64 * 1024) await new Promise((r) => setImmediate(r));
    } else {
      await new Promise((r) => setImmediate(r));
    }
  }
  while (sock.getSendQueueCount() > 0) await new Promise((r) => setImmediate(r));
  const writeMs = performance.now() - t0;
  const cpuSeconds = cpuSecondsSince(cpu0);
  sock.close();
  const result: DgramSendResult = { role: 'dgram-send', sent: i, writeMs, cpuSeconds, stalls };
  print(result);
}

async function dgramRecv(cfg: WorkerConfig): Promise<void> {
  const sock = createSocket({ type: 'udp4', reuseAddr: true });
  // Bound to the group address: only this group's datagrams (IP_MULTICAST_ALL cannot be turned off from node:dgram).
  await bindSocket(sock, cfg.port, cfg.group);
  sock.addMembership(cfg.group, cfg.iface);
  sock.setRecvBufferSize(cfg.socketBufferBytes);
  let delivered = 0;
  let bytes = 0;
  let firstMs = 0;
  let lastMs = 0;
  let emulatedDrops = 0;
  let cpu0 = process.cpuUsage();
  sock.on('message', (m) => {
    if (cfg.emulatedLoss > 0 && Math.random() < cfg.emulatedLoss) {
      emulatedDrops++;
      return;
    }
    const now = performance.now();
    if (delivered === 0) {
      firstMs = now;
      cpu0 = process.cpuUsage();
    }
    lastMs = now;
    delivered++;
    bytes += m.length;
  });
  print({ ready: true });
  const started = performance.now();
  await new Promise<void>((resolve) => {
    const t = setInterval(() => {
      const now = performance.now();
      if ((delivered > 0 && now - lastMs > cfg.idleMs) || (delivered === 0 && now - started > cfg.idleMs + 30_000) || delivered >= cfg.count) {
        clearInterval(t);
        resolve();
      }
    }, 20);
  });
  const cpuSeconds = delivered > 0 ? cpuSecondsSince(cpu0) : 0;
  sock.close();
  const result: DgramRecvResult = { role: 'dgram-recv', delivered, bytes, spanMs: lastMs - firstMs, cpuSeconds, emulatedDrops };
  print(result);
}

runWorkerRole<WorkerConfig>({ send, recv, 'dgram-send': dgramSend, 'dgram-recv': dgramRecv } as Record<string, (cfg: WorkerConfig) => Promise<void>>);
