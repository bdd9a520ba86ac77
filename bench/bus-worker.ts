/**
 * One process of the service-bus benchmark (bench/bus.ts). One JSON argument
 * ({@link BusBenchConfig}); prints JSON lines on stdout — `{"ready":true}` once
 * it can be measured, events while it runs, its result last — and reads
 * commands, one per line, on stdin (`work`, `stop`; a closed stdin is `stop`).
 *
 * Roles:
 * - `bus-serve`: a bus member serving subject `echo` (the handler returns the
 *   request's bytes) until `stop`.
 * - `bus-request`: a bus member that, once it knows a server of `echo`, sends
 *   `size`-byte requests at `rate` per second ({@link paced}; the first
 *   `warmupMs` not recorded) and records each round trip — request() called
 *   to its promise settled — then keeps `window` requests in flight for
 *   `saturationMs` and counts the replies.
 * - `chan-echo` / `chan-ping`: the same two measurements on a bare channel
 *   opened as openBus() opens its own (one group for both ways, a group
 *   member with the bus's role, pacing to bus members, stream `bus`, the
 *   batch API), without the bus: what the bus adds, and what the channel
 *   costs, apart.
 * - `dgram-echo` / `dgram-ping`: the same two measurements on raw node:dgram,
 *   unicast UDP: the echo sends every datagram back to where it came from.
 * - `task-work`: a bus member working queue `queue` with `capacity` — at start,
 *   or on `work` — with a no-op handler, or (`hang`) one that never finishes.
 *   With `report`, every task it starts is an event line with its start time.
 * - `task-submit`: a bus member that waits for `workers` workers of `queue`,
 *   submits `tasks` tasks (`size` bytes each, lease `leaseMs`) at once and
 *   waits for all of them.
 *
 * Event times are `process.hrtime()` (CLOCK_MONOTONIC) in µs: network
 * namespaces share that clock, so the orchestrator's kill time compares with
 * a lab host's task start.
 */

import { createSocket, type Socket } from 'node:dgram';
import { createInterface } from 'node:readline';
import { openBus, type Bus, type BusStats } from '../src/bus/index';
import { open as openChannel, type Channel, type MemberInfo, type MessageBatch } from '../src/index';
import { runWorkerRole } from './worker-main';

export interface BusBenchConfig {
  role: 'bus-serve' | 'bus-request' | 'chan-echo' | 'chan-ping' | 'dgram-echo' | 'dgram-ping' | 'task-work' | 'task-submit';
  /** Bus group `ADDRESS:PORT`. */
  group: string;
  /** This host's address: the multicast interface, and where dgram sockets bind. */
  iface: string;
  ttl: number;
  /** dgram-ping: the echo's address and port; dgram-echo: the port to bind. */
  peer?: string;
  port?: number;
  /** Requests per second of the low-rate part. */
  rate?: number;
  durationMs?: number;
  warmupMs?: number;
  /** Requests in flight in the saturation part. */
  window?: number;
  saturationMs?: number;
  size?: number;
  queue?: string;
  capacity?: number;
  /** task-work: start working at once (default) or on the `work` command. */
  workAt?: 'start' | 'command';
  hang?: boolean;
  report?: boolean;
  /** task-submit: workers to wait for, tasks to submit, their lease. */
  workers?: number;
  tasks?: number;
  leaseMs?: number;
}

export interface RequestResult {
  role: 'bus-request' | 'chan-ping' | 'dgram-ping';
  sent: number;
  /** Round trips of the low-rate part, µs. */
  rttUs: number[];
  /** Of those, the request leg (send → the echo's handler, read from the two processes' CLOCK_MONOTONIC), µs, in the same order. */
  requestLegUs: number[];
  failed: number;
  /** Saturation: replies in saturationMs, their round trips' median (µs), requester CPU µs per reply. */
  saturationReplies: number;
  saturationMs: number;
  saturationP50Us: number;
  saturationCpuUsPerReply: number;
  lost: number;
  /** Datagrams the requester's socket sent and received per round trip of the low-rate part (every kind: data, heartbeats, status, membership). */
  datagramsSentPerTrip: number;
  datagramsReceivedPerTrip: number;
  /** The requester's CPU µs per round trip of the low-rate part (idle work included: timers, heartbeats, membership). */
  cpuUsPerTrip: number;
  stats?: BusStats;
}

export interface SubmitResult {
  role: 'task-submit';
  tasks: number;
  /** From the first submit() to the last task's result, ms. */
  elapsedMs: number;
  /** Tasks per worker name. */
  perWorker: Record<string, number>;
  /** Tasks that needed more than one attempt. */
  retried: number;
  failed: number;
  /** The submitter's datagrams sent and received, and its CPU µs, per task (first submit() → last result). */
  datagramsSentPerTask: number;
  datagramsReceivedPerTask: number;
  cpuUsPerTask: number;
  stats: BusStats;
  deadBoundMs: number;
}

const SUBJECT = 'echo';
const READY_TIMEOUT_MS = 20_000;

function nowUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/** CLOCK_MONOTONIC in µs with its fraction: stamped into requests and replies to split a round trip into its two legs. */
function stampUs(): number {
  return Number(process.hrtime.bigint()) / 1000;
}

/** The echo's answer: the request's bytes with the echo's time at bytes 8–15 (the request carries its send time at 0–7). */
function stamped(data: Buffer): Buffer {
  const out = Buffer.from(data);
  out.writeDoubleLE(stampUs(), 8);
  return out;
}

/** A request: `size` bytes with its send time at bytes 0–7. */
function request(size: number): Buffer {
  const buf = Buffer.alloc(size, 0x62);
  buf.writeDoubleLE(stampUs(), 0);
  return buf;
}

/** µs from a request's send time to the echo's stamp, read from the reply. */
function requestLegUs(reply: Buffer): number {
  return reply.readDoubleLE(8) - reply.readDoubleLE(0);
}

function print(obj: unknown): void {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function need<K extends keyof BusBenchConfig>(cfg: BusBenchConfig, key: K): NonNullable<BusBenchConfig[K]> {
  const v = cfg[key];
  if (v === undefined || v === null) throw new Error(`${cfg.role} needs ${String(key)}`);
  return v as NonNullable<BusBenchConfig[K]>;
}

/** Resolves at the first `stop` line or when stdin ends; calls `onWork` for each `work` line. */
function commands(onWork: () => void = () => undefined): Promise<void> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin });
    rl.on('line', (line) => {
      if (line.trim() === 'work') onWork();
      if (line.trim() === 'stop') resolve();
    });
    rl.once('close', resolve);
  });
}

function open(cfg: BusBenchConfig, name: string): Promise<Bus> {
  return openBus({ group: cfg.group, interface: cfg.iface, ttl: cfg.ttl, name, discoveryMs: 1000 });
}

async function until(what: string, ok: () => boolean): Promise<void> {
  const t0 = performance.now();
  while (!ok()) {
    if (performance.now() - t0 > READY_TIMEOUT_MS) throw new Error(`no ${what} within ${READY_TIMEOUT_MS} ms`);
    await sleep(10);
  }
}

/**
 * Calls `tick()` so that `rate` per second happen over `durationMs`, as
 * bench/latency-worker.ts does (a late timer sends what is due, so the
 * average rate holds). Resolves with the number of ticks.
 */
async function paced(rate: number, durationMs: number, tick: () => void): Promise<number> {
  const t0 = performance.now();
  const total = Math.round((rate * durationMs) / 1000);
  let i = 0;
  while (i < total) {
    const due = Math.min(total, Math.floor(((performance.now() - t0) * rate) / 1000) + 1);
    while (i < due) {
      tick();
      i++;
    }
    await sleep(Math.max(0, t0 + (i * 1000) / rate - performance.now()));
  }
  return i;
}

function p50(values: number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.ceil(0.5 * s.length) - 1]!;
}

/**
 * The two measurements over one way of making a round trip: `roundTrip(onDone)`
 * starts one and calls `onDone(rttUs)` when it completes, or `onDone(NaN)`
 * when it failed. Resolves when nothing is outstanding any more.
 */
async function measureRoundTrips(
  cfg: BusBenchConfig, roundTrip: (onDone: (rttUs: number, requestLegUs: number) => void) => void, datagrams: () => { sent: number; received: number },
): Promise<Omit<RequestResult, 'role' | 'lost'>> {
  const rate = need(cfg, 'rate');
  let outstanding = 0;
  let failed = 0;
  let recording = false;
  const rtt: number[] = [];
  const legs: number[] = [];
  const one = (): void => {
    outstanding++;
    const record = recording;
    roundTrip((us, legUs) => {
      outstanding--;
      if (Number.isNaN(us)) failed++;
      else if (record) {
        rtt.push(us);
        legs.push(legUs);
      }
    });
  };
  await paced(rate, need(cfg, 'warmupMs'), one);
  recording = true;
  const before = datagrams();
  const lowCpu0 = process.cpuUsage();
  const sent = await paced(rate, need(cfg, 'durationMs'), one);
  await until('end of the low-rate part', () => outstanding === 0);
  const lowCpu = process.cpuUsage(lowCpu0);
  const after = datagrams();

  // Saturation: `window` in flight; every completion starts the next until the time is up.
  const window = need(cfg, 'window');
  const saturationMs = need(cfg, 'saturationMs');
  const satRtt: number[] = [];
  let replies = 0;
  let running = true;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await new Promise<void>((resolve) => {
    let inFlight = 0;
    const next = (): void => {
      inFlight++;
      roundTrip((us) => {
        inFlight--;
        if (Number.isNaN(us)) failed++;
        else if (running) {
          replies++;
          satRtt.push(us);
        }
        if (running) next();
        else if (inFlight === 0) resolve();
      });
    };
    for (let i = 0; i < window; i++) next();
    setTimeout(() => (running = false), saturationMs);
  });
  const elapsedMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return {
    sent, rttUs: rtt, requestLegUs: legs, failed, datagramsSentPerTrip: (after.sent - before.sent) / sent, datagramsReceivedPerTrip: (after.received - before.received) / sent,
    cpuUsPerTrip: (lowCpu.user + lowCpu.system) / sent, saturationReplies: replies, saturationMs: Math.min(elapsedMs, saturationMs),
    saturationP50Us: p50(satRtt), saturationCpuUsPerReply: (cpu.user + cpu.system) / Math.max(1, replies),
  };
}

async function busServe(cfg: BusBenchConfig): Promise<void> {
  const bus = await open(cfg, 'bench-server');
  bus.serve(SUBJECT, (r) => stamped(r.data));
  print({ ready: true });
  await commands();
  const stats = bus.stats();
  const cpu = process.cpuUsage();
  await bus.close();
  print({ role: 'bus-serve', stats, cpuUs: cpu.user + cpu.system });
}

async function busRequest(cfg: BusBenchConfig): Promise<void> {
  const bus = await open(cfg, 'bench-requester');
  await until(`server of '${SUBJECT}'`, () => bus.servers(SUBJECT).length > 0);
  print({ ready: true });
  const size = need(cfg, 'size');
  const r = await measureRoundTrips(cfg, (onDone) => {
    const t0 = performance.now();
    bus.request(SUBJECT, request(size)).then(
      (reply) => onDone((performance.now() - t0) * 1000, requestLegUs(reply.data)),
      () => onDone(NaN, NaN),
    );
  }, () => {
    const t = bus.channel.stats().transport;
    return { sent: t.datagramsSent, received: t.datagramsReceived };
  });
  const stats = bus.stats();
  await bus.close();
  print({ role: 'bus-request', ...r, lost: 0, stats } satisfies RequestResult);
}

const BUS_STREAM = 'bus';
const isBusMember = (m: MemberInfo): boolean => m.metadata['role'] === 'bus-member';

/** A channel with openBus()'s options (src/bus/bus.ts), as a user of the public API would open it. */
function openLikeBus(cfg: BusBenchConfig, name: string): Promise<Channel> {
  return openChannel({
    group: cfg.group, interface: cfg.iface, ttl: cfg.ttl, member: { name, metadata: { role: 'bus-member' } }, paceTo: isBusMember,
    streams: [BUS_STREAM], lingerMs: 2000, closeQuietMs: 250,
  });
}

async function chanEcho(cfg: BusBenchConfig): Promise<void> {
  const channel = await openLikeBus(cfg, 'bench-chan-echo');
  channel.subscribe(BUS_STREAM);
  let echoed = 0;
  channel.on('messages', (batch: MessageBatch) => {
    for (let i = 0; i < batch.count; i++) {
      echoed++;
      channel.write(stamped(batch.data(i)), BUS_STREAM);
    }
  });
  print({ ready: true });
  await commands();
  await channel.close();
  print({ role: 'chan-echo', echoed });
}

async function chanPing(cfg: BusBenchConfig): Promise<void> {
  const channel = await openLikeBus(cfg, 'bench-chan-ping');
  channel.subscribe(BUS_STREAM);
  const size = need(cfg, 'size');
  const waiting = new Map<number, { t0: number; onDone: (us: number, legUs: number) => void }>();
  let nextId = 0;
  channel.on('messages', (batch: MessageBatch) => {
    for (let i = 0; i < batch.count; i++) {
      const msg = batch.data(i);
      const w = waiting.get(msg.readUInt32LE(16));
      if (w === undefined) continue;
      waiting.delete(msg.readUInt32LE(16));
      w.onDone((performance.now() - w.t0) * 1000, requestLegUs(msg));
    }
  });
  const send = (onDone: (us: number, legUs: number) => void): void => {
    const t0 = performance.now();
    const buf = request(size);
    const id = nextId++;
    buf.writeUInt32LE(id, 16);
    waiting.set(id, { t0, onDone });
    channel.write(buf, BUS_STREAM);
  };
  // The echo hears us once a message came back (a late joiner starts at the next message).
  let up = false;
  for (let tries = 0; !up && tries < 400; tries++) {
    send((us) => (up ||= !Number.isNaN(us)));
    await sleep(50);
  }
  if (!up) throw new Error('no echo');
  waiting.clear();
  print({ ready: true });
  const r = await measureRoundTrips(cfg, send, () => {
    const t = channel.stats().transport;
    return { sent: t.datagramsSent, received: t.datagramsReceived };
  });
  await channel.close();
  print({ role: 'chan-ping', ...r, lost: 0 } satisfies RequestResult);
}

function bind(socket: Socket, port: number, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, address, () => {
      socket.off('error', reject);
      resolve();
    });
  });
}

async function dgramEcho(cfg: BusBenchConfig): Promise<void> {
  const socket = createSocket('udp4');
  let echoed = 0;
  socket.on('message', (msg, rinfo) => {
    echoed++;
    socket.send(stamped(msg), rinfo.port, rinfo.address);
  });
  await bind(socket, need(cfg, 'port'), cfg.iface);
  print({ ready: true });
  await commands();
  socket.close();
  const cpu = process.cpuUsage();
  print({ role: 'dgram-echo', echoed, cpuUs: cpu.user + cpu.system });
}

/** How long a dgram round trip may take before it counts as lost (UDP has no repair). */
const DGRAM_LOST_MS = 500;

async function dgramPing(cfg: BusBenchConfig): Promise<void> {
  const socket = createSocket('udp4');
  await bind(socket, 0, cfg.iface);
  const peer = need(cfg, 'peer');
  const port = need(cfg, 'port');
  const size = need(cfg, 'size');
  // Layout: f64 send time, f64 the echo's time, u32 id, filler.
  const waiting = new Map<number, { t0: number; onDone: (us: number, legUs: number) => void }>();
  let nextId = 0;
  let lost = 0;
  let datagramsSent = 0;
  let datagramsReceived = 0;
  socket.on('message', (msg) => {
    datagramsReceived++;
    const id = msg.readUInt32LE(16);
    const w = waiting.get(id);
    if (w === undefined) return;
    waiting.delete(id);
    w.onDone((performance.now() - w.t0) * 1000, requestLegUs(msg));
  });
  const sweep = setInterval(() => {
    const now = performance.now();
    for (const [id, w] of waiting) {
      if (now - w.t0 < DGRAM_LOST_MS) continue;
      waiting.delete(id);
      lost++;
      w.onDone(NaN, NaN);
    }
  }, 50);
  // Both ways are up once one datagram came back.
  let up = false;
  for (let tries = 0; !up && tries < 200; tries++) {
    const buf = request(size);
    const id = nextId++;
    buf.writeUInt32LE(id, 16);
    waiting.set(id, { t0: performance.now(), onDone: (us) => (up ||= !Number.isNaN(us)) });
    socket.send(buf, port, peer);
    await sleep(50);
  }
  if (!up) throw new Error(`no echo from ${peer}:${port}`);
  print({ ready: true });
  const r = await measureRoundTrips(cfg, (onDone) => {
    const t0 = performance.now();
    const buf = request(size);
    const id = nextId++;
    buf.writeUInt32LE(id, 16);
    waiting.set(id, { t0, onDone });
    socket.send(buf, port, peer);
    datagramsSent++;
  }, () => ({ sent: datagramsSent, received: datagramsReceived }));
  clearInterval(sweep);
  socket.close();
  print({ role: 'dgram-ping', ...r, lost } satisfies RequestResult);
}

async function taskWork(cfg: BusBenchConfig): Promise<void> {
  const bus = await open(cfg, `bench-worker-${process.pid}`);
  const queue = need(cfg, 'queue');
  const capacity = need(cfg, 'capacity');
  const hang = cfg.hang === true;
  const report = cfg.report === true;
  const work = (): void => {
    bus.work(queue, (task) => {
      if (report) print({ started: task.id, attempt: task.attempt, atUs: nowUs() });
      if (hang) return new Promise<void>(() => undefined);
      return undefined;
    }, { capacity });
    print({ working: true });
  };
  if (cfg.workAt !== 'command') work();
  print({ ready: true });
  await commands(work);
  const stats = bus.stats();
  await bus.close();
  print({ role: 'task-work', stats });
}

async function taskSubmit(cfg: BusBenchConfig): Promise<void> {
  const bus = await open(cfg, 'bench-submitter');
  const queue = need(cfg, 'queue');
  const workers = need(cfg, 'workers');
  await until(`${workers} workers of '${queue}'`, () => bus.workers(queue).length >= workers);
  print({ ready: true });
  const count = need(cfg, 'tasks');
  const leaseMs = need(cfg, 'leaseMs');
  const payload = Buffer.alloc(need(cfg, 'size'), 0x74);
  const perWorker: Record<string, number> = {};
  let retried = 0;
  let failed = 0;
  const wire0 = bus.channel.stats().transport;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const all: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    all.push(bus.submit(queue, payload, { leaseMs }).then(
      (r) => {
        for (const w of r.workers) perWorker[w.name] = (perWorker[w.name] ?? 0) + 1;
        if (r.attempts > 1) retried++;
      },
      () => void failed++,
    ));
  }
  print({ submitted: count });
  await Promise.all(all);
  const elapsedMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const wire = bus.channel.stats().transport;
  const datagramsSentPerTask = (wire.datagramsSent - wire0.datagramsSent) / count;
  const datagramsReceivedPerTask = (wire.datagramsReceived - wire0.datagramsReceived) / count;
  const cpuUsPerTask = (cpu.user + cpu.system) / count;
  const stats = bus.stats();
  const deadBoundMs = bus.channel.group!.timers().deadBoundMs;
  await bus.close();
  print({
    role: 'task-submit', tasks: count, elapsedMs, perWorker, retried, failed, datagramsSentPerTask, datagramsReceivedPerTask, cpuUsPerTask, stats, deadBoundMs,
  } satisfies SubmitResult);
}

runWorkerRole<BusBenchConfig>({
  'bus-serve': busServe, 'bus-request': busRequest, 'chan-echo': chanEcho, 'chan-ping': chanPing, 'dgram-echo': dgramEcho, 'dgram-ping': dgramPing, 'task-work': taskWork, 'task-submit': taskSubmit,
});
