/**
 * One process of the replicated-state benchmark (bench/state.ts). Takes a
 * JSON config as its argument, prints JSON lines (`{"ready":true}` once it can
 * be measured, then its result), reads commands on stdin. Loopback only: every
 * channel is opened on interface 127.0.0.1 with TTL 0.
 *
 * Roles:
 * - `map-write`: a replica of the map that sets fresh keys (`key-000123` →
 *   a 30-character string), `batch` per event-loop turn, for `durationMs`,
 *   waiting for the channel's 'drain' when the map's delta was back-pressured;
 *   then waits for `stop`.
 * - `map-read`: a replica counting the 'change' events of other replicas'
 *   writes; on `report N` waits until it applied N (or nothing came for
 *   IDLE_MS) and prints its counts.
 * - `raw-write` / `raw-read`: the same entries through a bare channel, as an
 *   application would send them by hand: `batched` (one JSON array of the
 *   turn's [key, value] pairs per turn), `entry` (one JSON [key, value] message
 *   per entry), or `bulk` (messages of BULK_BYTES raw bytes: the channel's
 *   throughput on loopback). Readers keep the entries in a Map.
 * - `seed`: a replica that fills the map with `entries` entries, then stays
 *   quiet; `stats` prints its counters, `stop` ends it.
 * - `join`: a late joiner: opens its channel and map, waits for synced(),
 *   prints the time that took; then as `seed`.
 */

import { createInterface } from 'node:readline';
import { open, type Channel, type MessageBatch } from '../src/index';
import { replicate, type ReplicatedMap, type ReplicatedMapStats } from '../src/state/index';
import { runWorkerRole } from './worker-main';

export type Role = 'map-write' | 'map-read' | 'raw-write' | 'raw-read' | 'seed' | 'join';
export type RawMode = 'batched' | 'entry' | 'bulk';

export interface StateBenchConfig {
  role: Role;
  group: string;
  name: string;
  /** Writers: entries set per event-loop turn (bulk: messages per turn). */
  batch?: number;
  durationMs?: number;
  /** Writers: replicas (map) or receivers (raw) to wait for before the timed part. */
  readers?: number;
  mode?: RawMode;
  /** seed: entries to fill the map with. */
  entries?: number;
  socketBufferBytes?: number;
}

export interface WriteResult {
  role: 'map-write' | 'raw-write';
  writes: number;
  bytes: number;
  /** Wall clock (performance.timeOrigin + performance.now()), ms: the first and after the last write. */
  t0: number;
  t1: number;
  cpuUs: number;
  /** Turns that waited for 'drain'. */
  drainWaits: number;
  digest?: string;
  stats?: ReplicatedMapStats;
}

export interface ReadResult {
  role: 'map-read' | 'raw-read';
  applied: number;
  bytes: number;
  firstAt: number;
  lastAt: number;
  cpuUs: number;
  digest?: string;
  stats?: ReplicatedMapStats;
}

export interface JoinResult {
  role: 'join';
  /** open() called → synced() resolved, ms. */
  syncMs: number;
  size: number;
  digest: string;
  stats: ReplicatedMapStats;
}

export interface StatsLine {
  at: number;
  size: number;
  digest: string;
  map: ReplicatedMapStats;
  bytesSent: number;
  datagramsSent: number;
  /** Snapshot bytes of the last cycle this replica sent between two cycle starts (≈ one whole cycle when they run back to back); 0 until one. */
  cycleBytes: number;
}

/** A reader reports once nothing changed for this long, if it has not applied all it was told to expect. */
const IDLE_MS = 3000;
const VALUE_BYTES = 30;
const BULK_BYTES = 8192;
const WARMUP_TIMEOUT_MS = 20_000;

const now = (): number => performance.timeOrigin + performance.now();
const print = (obj: unknown): void => void process.stdout.write(`${JSON.stringify(obj)}\n`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

function cpuUs(since: NodeJS.CpuUsage): number {
  const c = process.cpuUsage(since);
  return c.user + c.system;
}

export function keyOf(i: number): string {
  return `key-${String(i).padStart(6, '0')}`;
}

/** A 30-character value, different per key. */
export function valueOf(i: number): string {
  return `session:${String(i).padStart(8, '0')}:`.padEnd(VALUE_BYTES, 'abcdefghijklmnopqrstuvwxyz');
}

function openChannel(cfg: StateBenchConfig): Promise<Channel> {
  const buffers = cfg.socketBufferBytes === undefined ? {} : { recvBufferBytes: cfg.socketBufferBytes, sendBufferBytes: cfg.socketBufferBytes };
  // Loopback only: interface 127.0.0.1 and TTL 0 keep every datagram on this machine.
  return open({ group: cfg.group, interface: '127.0.0.1', ttl: 0, ...buffers });
}

function need<K extends keyof StateBenchConfig>(cfg: StateBenchConfig, key: K): NonNullable<StateBenchConfig[K]> {
  const v = cfg[key];
  if (v === undefined || v === null) throw new Error(`${cfg.role} needs ${String(key)}`);
  return v as NonNullable<StateBenchConfig[K]>;
}

/** Lines on stdin, one at a time; resolves `null` when stdin ends. */
function commands(): () => Promise<string | null> {
  const rl = createInterface({ input: process.stdin });
  const queued: string[] = [];
  const waiting: Array<(line: string | null) => void> = [];
  let ended = false;
  rl.on('line', (line) => {
    const w = waiting.shift();
    if (w) w(line.trim());
    else queued.push(line.trim());
  });
  rl.once('close', () => {
    ended = true;
    for (const w of waiting.splice(0)) w(null);
  });
  return () => {
    if (queued.length > 0) return Promise.resolve(queued.shift()!);
    if (ended) return Promise.resolve(null);
    return new Promise((resolve) => waiting.push(resolve));
  };
}

/** Resolves at a `stop` line or when stdin ends. */
async function stopped(): Promise<void> {
  const next = commands();
  for (let line = await next(); line !== null && line !== 'stop'; line = await next());
}

async function until(what: string, ok: () => boolean, timeoutMs = WARMUP_TIMEOUT_MS): Promise<void> {
  const t0 = performance.now();
  while (!ok()) {
    if (performance.now() - t0 > timeoutMs) throw new Error(`no ${what} within ${timeoutMs} ms`);
    await sleep(10);
  }
}

/**
 * Back-pressure as the map reports it: when a turn's delta was back-pressured
 * (stats().backPressured grew), wait for the channel's 'drain' — unless one
 * came since the last check (the map writes at the end of the turn, so the
 * 'drain' may already be past), and at most 100 ms in case it was.
 */
function drainGate(channel: Channel, backPressured: () => number): () => Promise<boolean> {
  let drains = 0;
  let wake: (() => void) | undefined;
  channel.on('drain', () => {
    drains++;
    wake?.();
  });
  let seenPressure = 0;
  let seenDrains = 0;
  return async () => {
    const pressure = backPressured();
    const waited = pressure > seenPressure && drains === seenDrains;
    seenPressure = pressure;
    if (waited) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 100);
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      wake = undefined;
    }
    seenDrains = drains;
    return waited;
  };
}

async function fill(map: ReplicatedMap<string>, channel: Channel, from: number, to: number, batch: number): Promise<number> {
  const gate = drainGate(channel, () => map.stats().backPressured);
  let waits = 0;
  for (let i = from; i < to; ) {
    for (const end = Math.min(to, i + batch); i < end; i++) map.set(keyOf(i), valueOf(i));
    await turn();
    if (await gate()) waits++;
  }
  return waits;
}

async function mapWrite(cfg: StateBenchConfig): Promise<void> {
  const channel = await openChannel(cfg);
  const map = await replicate<string>(channel, cfg.name);
  await map.synced();
  const readers = need(cfg, 'readers');
  await until(`${readers} other replicas`, () => map.stats().replicas >= readers);
  print({ ready: true });
  const batch = need(cfg, 'batch');
  const durationMs = need(cfg, 'durationMs');
  const gate = drainGate(channel, () => map.stats().backPressured);
  const cpu0 = process.cpuUsage();
  const t0 = now();
  let i = 0;
  let drainWaits = 0;
  while (now() - t0 < durationMs) {
    for (let end = i + batch; i < end; i++) map.set(keyOf(i), valueOf(i));
    await turn();
    if (await gate()) drainWaits++;
  }
  const t1 = now();
  const cpu = cpuUs(cpu0);
  print({ role: 'map-write', writes: i, bytes: channel.stats().channel.bytesWritten, t0, t1, cpuUs: cpu, drainWaits, digest: map.digest(), stats: map.stats() } satisfies WriteResult);
  await stopped();
  await map.close();
  await channel.close();
}

async function report(expect: () => Promise<number>, count: () => number, lastAt: () => number): Promise<void> {
  const n = await expect();
  while (count() < n && now() - lastAt() < IDLE_MS) await sleep(20);
}

async function mapRead(cfg: StateBenchConfig): Promise<void> {
  const channel = await openChannel(cfg);
  const map = await replicate<string>(channel, cfg.name);
  let applied = 0;
  let firstAt = NaN;
  let lastAt = now();
  let cpu0 = process.cpuUsage();
  map.on('change', (c) => {
    if (c.origin === map.id) return;
    if (applied === 0) {
      firstAt = now();
      cpu0 = process.cpuUsage();
    }
    applied++;
    lastAt = now();
  });
  await map.synced();
  print({ ready: true });
  const next = commands();
  await report(async () => Number((await next())?.split(' ')[1] ?? 0), () => applied, () => lastAt);
  const cpu = cpuUs(cpu0);
  print({ role: 'map-read', applied, bytes: channel.stats().transport.bytesReceived, firstAt, lastAt, cpuUs: cpu, digest: map.digest(), stats: map.stats() } satisfies ReadResult);
  await map.close();
  await channel.close();
}

const STREAM = 'state/raw';

async function rawWrite(cfg: StateBenchConfig): Promise<void> {
  const channel = await openChannel(cfg);
  let receivers = 0;
  channel.on('receiver', () => receivers++);
  const readers = need(cfg, 'readers');
  // Warm-up: a marker message every 20 ms until every reader reported status, as bench/reliable-worker.ts does.
  const deadline = performance.now() + WARMUP_TIMEOUT_MS;
  while (receivers < readers) {
    if (performance.now() > deadline) throw new Error(`only ${receivers} of ${readers} receivers within ${WARMUP_TIMEOUT_MS} ms`);
    channel.write('"warmup"', STREAM);
    await sleep(20);
  }
  print({ ready: true });
  const batch = need(cfg, 'batch');
  const durationMs = need(cfg, 'durationMs');
  const mode = need(cfg, 'mode');
  const bulk = Buffer.alloc(BULK_BYTES, 0x62);
  let drainWaits = 0;
  let i = 0;
  let bytes = 0;
  const cpu0 = process.cpuUsage();
  const t0 = now();
  while (now() - t0 < durationMs) {
    let ok = true;
    if (mode === 'batched') {
      const pairs: [string, string][] = [];
      for (let end = i + batch; i < end; i++) pairs.push([keyOf(i), valueOf(i)]);
      const msg = JSON.stringify(pairs);
      bytes += Buffer.byteLength(msg);
      ok = channel.write(msg, STREAM);
    } else if (mode === 'entry') {
      for (let end = i + batch; i < end; i++) {
        const msg = JSON.stringify([keyOf(i), valueOf(i)]);
        bytes += Buffer.byteLength(msg);
        ok = channel.write(msg, STREAM) && ok;
      }
    } else {
      for (let end = i + batch; i < end; i++) ok = channel.write(bulk, STREAM) && ok;
      bytes += batch * BULK_BYTES;
    }
    if (ok) await turn();
    else {
      drainWaits++;
      await new Promise<void>((r) => channel.once('drain', () => r()));
    }
  }
  const t1 = now();
  const cpu = cpuUs(cpu0);
  print({ role: 'raw-write', writes: i, bytes, t0, t1, cpuUs: cpu, drainWaits } satisfies WriteResult);
  await stopped();
  await channel.close();
}

async function rawRead(cfg: StateBenchConfig): Promise<void> {
  const channel = await openChannel(cfg);
  channel.subscribe(STREAM);
  const mode = need(cfg, 'mode');
  const entries = new Map<string, string>();
  let applied = 0;
  let bytes = 0;
  let firstAt = NaN;
  let lastAt = now();
  let cpu0 = process.cpuUsage();
  channel.on('messages', (batch: MessageBatch) => {
    for (let m = 0; m < batch.count; m++) {
      const data = batch.data(m);
      if (data.length === 8 && data.toString() === '"warmup"') continue;
      if (applied === 0) {
        firstAt = now();
        cpu0 = process.cpuUsage();
      }
      bytes += data.length;
      if (mode === 'bulk') applied++;
      else if (mode === 'entry') {
        const [k, v] = JSON.parse(data.toString()) as [string, string];
        entries.set(k, v);
        applied++;
      } else {
        for (const [k, v] of JSON.parse(data.toString()) as [string, string][]) {
          entries.set(k, v);
          applied++;
        }
      }
      lastAt = now();
    }
  });
  print({ ready: true });
  const next = commands();
  await report(async () => Number((await next())?.split(' ')[1] ?? 0), () => applied, () => lastAt);
  const cpu = cpuUs(cpu0);
  print({ role: 'raw-read', applied, bytes, firstAt, lastAt, cpuUs: cpu } satisfies ReadResult);
  await channel.close();
}

/** Answers `stats` with a StatsLine until `stop` (or stdin ends), then closes. */
async function serveStats(map: ReplicatedMap<string>, channel: Channel): Promise<void> {
  // A cycle's bytes: snapshotBytesSent from one cycle start to the next (polled; the first chunk of the next cycle falls on either side).
  let cycles = map.stats().snapshotsSent;
  let bytesAtStart = NaN;
  let cycleBytes = 0;
  const poll = setInterval(() => {
    const st = map.stats();
    if (st.snapshotsSent === cycles) return;
    if (st.snapshotsSent === cycles + 1 && Number.isFinite(bytesAtStart)) cycleBytes = st.snapshotBytesSent - bytesAtStart;
    cycles = st.snapshotsSent;
    bytesAtStart = st.snapshotBytesSent;
  }, 10);
  const next = commands();
  for (let line = await next(); line !== null && line !== 'stop'; line = await next()) {
    if (line !== 'stats') continue;
    const t = channel.stats().transport;
    print({ stats: { at: now(), size: map.size, digest: map.digest(), map: map.stats(), bytesSent: t.bytesSent, datagramsSent: t.datagramsSent, cycleBytes } satisfies StatsLine });
  }
  clearInterval(poll);
  await map.close();
  await channel.close();
}

async function seed(cfg: StateBenchConfig): Promise<void> {
  const channel = await openChannel(cfg);
  const map = await replicate<string>(channel, cfg.name);
  await map.synced();
  const t0 = now();
  const entries = need(cfg, 'entries');
  const drainWaits = await fill(map, channel, 0, entries, need(cfg, 'batch'));
  print({ ready: true, fillMs: now() - t0, drainWaits, size: map.size, digest: map.digest() });
  await serveStats(map, channel);
}

async function join(cfg: StateBenchConfig): Promise<void> {
  const t0 = now();
  const channel = await openChannel(cfg);
  const map = await replicate<string>(channel, cfg.name);
  await map.synced();
  const syncMs = now() - t0;
  print({ role: 'join', syncMs, size: map.size, digest: map.digest(), stats: map.stats() } satisfies JoinResult);
  await serveStats(map, channel);
}

if (require.main === module) {
  runWorkerRole<StateBenchConfig>({ 'map-write': mapWrite, 'map-read': mapRead, 'raw-write': rawWrite, 'raw-read': rawRead, seed, join });
}
