/**
 * Service-bus benchmark (issue 13): `blipcast/bus` between processes on lab
 * hosts (network namespaces joined by a bridge, 198.18.0.0/15; root), next to
 * raw node:dgram between the same hosts in the same run.
 *
 *   npm run bench:bus                  (= npm run build && node dist/bench/bus.js)
 *   node dist/bench/bus.js [--runs 5] [--quick] [--only rr|tasks|reoffer] [--profile]
 *       [--rate 1000] [--duration-ms 5000] [--window 64] [--tasks 10000] [--verbose]
 *
 * 1. Request/reply, h0 → h1: 64-byte requests to an echo handler at `rate`
 *    per second (round trip = request() called → its promise settled,
 *    p50/p99), then `window` requests kept in flight (requests/s). The echo
 *    stamps its CLOCK_MONOTONIC time into the bytes it returns (the request
 *    carries its send time), which splits each round trip into its request
 *    and reply legs; the requester's datagrams per round trip come from its
 *    channel's transport counters, its CPU from process.cpuUsage(). Beside
 *    it, in the same rounds: a unicast node:dgram echo (same payload, rate and
 *    window; a datagram not back in 500 ms counts as lost), a bare channel
 *    opened as openBus() opens its own with an echo on it (what the bus
 *    layer adds, apart from the channel), and blipcast's own channel round
 *    trip (bench/latency-worker.ts: one channel per direction, not group
 *    members; same payload and rate; no saturation part). The systems run
 *    interleaved, the order rotated every round; each cell is the median of
 *    the runs' values with [min–max]. The issue's goal: bus p50 ≤ 3 × dgram p50.
 * 2. Task throughput: one submitter on h0 submits `tasks` tasks at once to
 *    3 workers (h1–h3, no-op handler) of capacity 1, 4 and 16; tasks/s from
 *    the first submit() to the last result.
 * 3. Re-offer after a kill: a worker on h1 (capacity 4, a handler that never
 *    finishes) holds the submitter's 4 tasks; a second worker on h2 starts
 *    working, and 1–2 s later (a random phase against the lease renewals) the
 *    first is killed with SIGKILL. Measured: from the kill to the moment the
 *    second worker's handler starts each task (CLOCK_MONOTONIC, shared by the
 *    lab namespaces), with lease 1 s and the default 10 s. What noticed the
 *    death — the lease lapsing or membership declaring the member dead
 *    (within deadBoundMs) — comes from the submitter's counters.
 *
 * `--profile` runs the low-rate request part once more with `node --cpu-prof`
 * on the requester, then on the server, then one task run (capacity 4) with
 * it on the submitter, then on one worker, and prints their top self-time
 * functions (one side profiled per run: the profiler slows only that side).
 */

import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Lab as LabType } from '../test/lab/lab';
import type { BusBenchConfig, RequestResult, SubmitResult } from './bus-worker';
import type { LatencyConfig, PingResult } from './latency-worker';
import { topFunctions } from './reliable-profile';
import { randomGroup, randomPort, requireRoot } from './runner';
import { formatTable, median } from './table';

const BUS_WORKER = join(__dirname, 'bus-worker.js');
const LATENCY_WORKER = join(__dirname, 'latency-worker.js');
const TTL = 1;
const SIZE = 64;
/** A process that has not finished its part this long after it started is killed and the run fails. */
const PROCESS_TIMEOUT_MS = 120_000;
/** Task throughput: workers and their capacities. */
const TASK_WORKERS = 3;
const CAPACITIES = [1, 4, 16];
/** Re-offer: tasks the killed worker holds (its capacity, and the survivor's). */
const HELD_TASKS = 4;
const LEASES_MS = [1000, 10_000];
/** --profile: the task run profiled. */
const PROFILED_CAPACITY = 4;

let verbose = false;

function nowUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

type Line = Record<string, unknown>;

/** A worker process: its JSON lines as they come, commands on stdin, its last `role` line as the result. */
class Proc {
  readonly lines: Line[] = [];
  private err = '';
  private wake: (() => void)[] = [];
  private exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private readonly exited: Promise<void>;
  private readonly timer: NodeJS.Timeout;

  constructor(readonly child: ChildProcess, readonly name: string) {
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      let nl: number;
      while ((nl = out.indexOf('\n')) !== -1) {
        const text = out.slice(0, nl);
        out = out.slice(nl + 1);
        if (text.startsWith('{')) this.lines.push(JSON.parse(text) as Line);
        this.notify();
      }
    });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.err += d));
    child.stdin?.on('error', () => undefined);
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => {
      this.exit = { code, signal };
      clearTimeout(this.timer);
      this.notify();
      resolve();
    }));
    this.timer = setTimeout(() => child.kill('SIGKILL'), PROCESS_TIMEOUT_MS);
  }

  private notify(): void {
    const w = this.wake;
    this.wake = [];
    for (const f of w) f();
  }

  /** Resolves once `cond()` holds (checked at every line); rejects when the process exits first or after `timeoutMs`. */
  async until(what: string, cond: () => boolean, timeoutMs = 30_000): Promise<void> {
    const t0 = performance.now();
    while (!cond()) {
      if (this.exit !== undefined) throw new Error(`${this.name} exited (${this.exit.code ?? this.exit.signal}) before ${what}${this.stderrTail()}`);
      const left = timeoutMs - (performance.now() - t0);
      if (left <= 0) throw new Error(`${this.name}: no ${what} within ${timeoutMs} ms${this.stderrTail()}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.wake.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  ready(): Promise<void> {
    return this.until('ready', () => this.lines.some((l) => l['ready'] === true));
  }

  count(key: string): number {
    return this.lines.filter((l) => key in l).length;
  }

  send(command: string): void {
    this.child.stdin?.write(`${command}\n`);
  }

  /** Says `stop` (a worker that waits for it) and resolves with the last line naming a role, once the process exited with 0. */
  async result<T>(stop = false): Promise<T> {
    if (stop) this.child.stdin?.end('stop\n');
    await this.exited;
    const line = [...this.lines].reverse().find((l) => 'role' in l);
    if (this.exit!.code !== 0 || line === undefined) throw new Error(`${this.name} exited ${this.exit!.code ?? this.exit!.signal} without a result${this.stderrTail()}`);
    if (verbose) process.stderr.write(`[${this.name}] ${JSON.stringify(line).slice(0, 400)}\n`);
    return line as T;
  }

  kill(): void {
    if (this.exit === undefined) this.child.kill('SIGKILL');
  }

  private stderrTail(): string {
    const t = this.err.trim();
    return t ? `: ${t.split('\n').slice(-5).join(' | ')}` : '';
  }
}

function start(lab: LabType, host: number, script: string, cfg: object, name: string, nodeFlags: string[] = []): Proc {
  const child = lab.spawn(host, process.execPath, [...nodeFlags, script, JSON.stringify(cfg)], { stdio: ['pipe', 'pipe', 'pipe'] });
  return new Proc(child, `${name} h${host}`);
}

function busGroup(): string {
  return `${randomGroup()}:${randomPort()}`;
}

function percentile(values: number[], q: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}

/** `median [min–max]` of the values (NaN ignored), each through `f`. */
function cell(values: number[], f: (n: number) => string = (n) => n.toFixed(0)): string {
  const v = values.filter((x) => Number.isFinite(x));
  if (v.length === 0) return '—';
  if (v.length === 1) return f(v[0]!);
  return `${f(median(v))} [${f(Math.min(...v))}–${f(Math.max(...v))}]`;
}

// ---------------------------------------------------------------- 1. request/reply

interface Settings {
  runs: number;
  rate: number;
  durationMs: number;
  warmupMs: number;
  window: number;
  saturationMs: number;
  tasks: number;
}

type RrSystem = 'bus' | 'bare' | 'channel' | 'dgram';
const RR_LABELS: Record<RrSystem, string> = {
  bus: 'blipcast/bus request → echo handler → reply',
  bare: 'blipcast channel opened as the bus opens it, no bus',
  channel: 'blipcast channel round trip (latency-worker)',
  dgram: 'node:dgram unicast UDP echo (raw)',
};

interface RrRun {
  p50: number;
  p99: number;
  samples: number;
  perSec: number;
  satP50: number;
  cpuPerReply: number;
  failed: number;
  /** p50 of the request leg (send → echo) and of the reply leg (echo → settled), µs. */
  requestLeg: number;
  replyLeg: number;
  /** Requester CPU µs per round trip, low rate. */
  cpuPerTrip: number;
  /** Requester datagrams sent / received per round trip, low rate. */
  sentPerTrip: number;
  receivedPerTrip: number;
}

function rrRun(r: RequestResult): RrRun {
  return {
    p50: percentile(r.rttUs, 0.5), p99: percentile(r.rttUs, 0.99), samples: r.rttUs.length,
    perSec: r.saturationReplies / (r.saturationMs / 1000), satP50: r.saturationP50Us, cpuPerReply: r.saturationCpuUsPerReply, failed: r.failed,
    sentPerTrip: r.datagramsSentPerTrip, receivedPerTrip: r.datagramsReceivedPerTrip, cpuPerTrip: r.cpuUsPerTrip,
    requestLeg: percentile(r.requestLegUs, 0.5), replyLeg: percentile(r.rttUs.map((rtt, i) => rtt - r.requestLegUs[i]!), 0.5),
  };
}

function requestConfig(s: Settings): Pick<BusBenchConfig, 'rate' | 'durationMs' | 'warmupMs' | 'window' | 'saturationMs' | 'size' | 'ttl'> {
  return { rate: s.rate, durationMs: s.durationMs, warmupMs: s.warmupMs, window: s.window, saturationMs: s.saturationMs, size: SIZE, ttl: TTL };
}

async function busOnce(lab: LabType, s: Settings, flags: { requester?: string[]; server?: string[] } = {}): Promise<{ run: RrRun; result: RequestResult; server: { cpuUs: number } }> {
  const group = busGroup();
  const server = start(lab, 1, BUS_WORKER, { role: 'bus-serve', group, iface: lab.hosts[1]!.ipv4, ttl: TTL } satisfies BusBenchConfig, 'bus-serve', flags.server);
  let requester: Proc | undefined;
  try {
    await server.ready();
    requester = start(lab, 0, BUS_WORKER, { role: 'bus-request', group, iface: lab.hosts[0]!.ipv4, ...requestConfig(s) } satisfies BusBenchConfig, 'bus-request', flags.requester);
    const result = await requester.result<RequestResult>();
    const srv = await server.result<{ cpuUs: number }>(true);
    return { run: rrRun(result), result, server: srv };
  } finally {
    requester?.kill();
    server.kill();
  }
}

async function bareOnce(lab: LabType, s: Settings): Promise<RrRun> {
  const group = busGroup();
  const echo = start(lab, 1, BUS_WORKER, { role: 'chan-echo', group, iface: lab.hosts[1]!.ipv4, ttl: TTL } satisfies BusBenchConfig, 'chan-echo');
  let ping: Proc | undefined;
  try {
    await echo.ready();
    ping = start(lab, 0, BUS_WORKER, { role: 'chan-ping', group, iface: lab.hosts[0]!.ipv4, ...requestConfig(s) } satisfies BusBenchConfig, 'chan-ping');
    const result = await ping.result<RequestResult>();
    await echo.result(true);
    return rrRun(result);
  } finally {
    ping?.kill();
    echo.kill();
  }
}

async function dgramOnce(lab: LabType, s: Settings): Promise<RrRun> {
  const port = randomPort();
  const echo = start(lab, 1, BUS_WORKER, { role: 'dgram-echo', group: '', iface: lab.hosts[1]!.ipv4, ttl: TTL, port } satisfies BusBenchConfig, 'dgram-echo');
  let ping: Proc | undefined;
  try {
    await echo.ready();
    ping = start(lab, 0, BUS_WORKER, { role: 'dgram-ping', group: '', iface: lab.hosts[0]!.ipv4, peer: lab.hosts[1]!.ipv4, port, ...requestConfig(s) } satisfies BusBenchConfig, 'dgram-ping');
    const result = await ping.result<RequestResult>();
    await echo.result(true);
    return { ...rrRun(result), failed: result.lost };
  } finally {
    ping?.kill();
    echo.kill();
  }
}

async function channelOnce(lab: LabType, s: Settings): Promise<RrRun> {
  const base: LatencyConfig = {
    role: 'echo', groupA: randomGroup(), groupB: randomGroup(), port: randomPort(), portB: randomPort(), iface: lab.hosts[1]!.ipv4, ttl: TTL,
    rate: s.rate, durationMs: s.durationMs, warmupMs: s.warmupMs, size: SIZE, emulatedLoss: 0,
  };
  const echo = start(lab, 1, LATENCY_WORKER, base, 'channel-echo');
  let ping: Proc | undefined;
  try {
    await echo.ready();
    ping = start(lab, 0, LATENCY_WORKER, { ...base, role: 'ping', iface: lab.hosts[0]!.ipv4 }, 'channel-ping');
    const r = await ping.result<PingResult>();
    await echo.result();
    return { p50: percentile(r.rttUs, 0.5), p99: percentile(r.rttUs, 0.99), samples: r.rttUs.length, perSec: NaN, satP50: NaN, cpuPerReply: NaN, failed: r.sent - r.received, sentPerTrip: NaN, receivedPerTrip: NaN, cpuPerTrip: NaN, requestLeg: NaN, replyLeg: NaN };
  } finally {
    ping?.kill();
    echo.kill();
  }
}

async function requestReply(lab: LabType, s: Settings): Promise<void> {
  const systems: RrSystem[] = ['bus', 'bare', 'channel', 'dgram'];
  const runs = new Map<RrSystem, (RrRun | undefined)[]>(systems.map((x) => [x, []]));
  for (let round = 0; round < s.runs; round++) {
    for (let k = 0; k < systems.length; k++) {
      const system = systems[(k + round) % systems.length]!;
      let run: RrRun | undefined;
      try {
        run = system === 'bus' ? (await busOnce(lab, s)).run : system === 'bare' ? await bareOnce(lab, s) : system === 'dgram' ? await dgramOnce(lab, s) : await channelOnce(lab, s);
        process.stderr.write(`round ${round + 1}/${s.runs} ${system}: p50 ${run.p50.toFixed(0)} µs, p99 ${run.p99.toFixed(0)} µs, ${run.perSec.toFixed(0)} req/s at ${s.window} in flight, ${run.failed} failed, load ${loadavg()[0]!.toFixed(2)}\n`);
      } catch (err) {
        process.stderr.write(`round ${round + 1}/${s.runs} ${system} failed: ${(err as Error).message}\n`);
      }
      runs.get(system)!.push(run);
    }
  }
  const done = (system: RrSystem): RrRun[] => runs.get(system)!.filter((x): x is RrRun => x !== undefined);
  const latencyRows = systems.map((system) => {
    const r = done(system);
    const failed = r.reduce((sum, x) => sum + x.failed, 0);
    return [
      RR_LABELS[system], `${r.length}/${s.runs}`, String(r.reduce((sum, x) => sum + x.samples, 0)), cell(r.map((x) => x.p50)), cell(r.map((x) => x.p99)),
      `${cell(r.map((x) => x.requestLeg))} / ${cell(r.map((x) => x.replyLeg))}`,
      system === 'dgram' ? `${failed} lost (> 500 ms)` : system === 'channel' ? `${failed} not echoed` : `${failed} failed`,
    ];
  });
  const costRows = systems.filter((system) => system !== 'channel').map((system) => {
    const r = done(system);
    return [
      RR_LABELS[system], cell(r.map((x) => x.perSec), (n) => `${(n / 1000).toFixed(1)} k`), cell(r.map((x) => x.satP50)),
      cell(r.map((x) => x.cpuPerTrip)), cell(r.map((x) => x.cpuPerReply)),
      `${cell(r.map((x) => x.sentPerTrip), (n) => n.toFixed(2))} / ${cell(r.map((x) => x.receivedPerTrip), (n) => n.toFixed(2))}`,
    ];
  });
  // Ratios within a round: the systems of one round ran back to back.
  const ratio = (a: RrSystem, b: RrSystem): number[] => runs.get(a)!.map((x, i) => {
    const y = runs.get(b)![i];
    return x === undefined || y === undefined ? NaN : x.p50 / y.p50;
  });
  const toDgram = ratio('bus', 'dgram');
  const toChannel = ratio('bus', 'channel');
  const toBare = ratio('bus', 'bare');
  const bareToDgram = ratio('bare', 'dgram');
  const channelToDgram = ratio('channel', 'dgram');
  const bareToChannel = ratio('bare', 'channel');
  const barePerSec = runs.get('bare')!.map((x) => x?.perSec ?? NaN);
  const busPerSec = runs.get('bus')!.map((x) => x?.perSec ?? NaN);
  const dgramPerSec = runs.get('dgram')!.map((x) => x?.perSec ?? NaN);
  console.log(`\n1. Request/reply h0 → h1 — ${SIZE} B payload; low rate ${s.rate}/s for ${s.durationMs / 1000} s (first ${s.warmupMs / 1000} s before it not recorded), then ${s.window} in flight for ${s.saturationMs / 1000} s`);
  console.log(`   ${s.runs} interleaved rounds (order rotated); median of the runs [min–max]; round trips in µs, request() called → promise settled (dgram: send → reply)\n`);
  console.log(formatTable(['system', 'runs ok', 'round trips', 'p50 µs', 'p99 µs', 'legs p50 µs: request / reply', 'failures'], latencyRows));
  console.log(`\n   saturation (${s.window} in flight) and the requester's cost; CPU = the requester process's user + system time per round trip\n`);
  console.log(formatTable(['system', 'req/s', 'p50 µs', `CPU µs/trip, ${s.rate}/s`, 'CPU µs/trip, saturated', `datagrams sent / received per trip, ${s.rate}/s`], costRows));
  const f2 = (n: number): string => n.toFixed(2);
  const met = median(toDgram.filter(Number.isFinite)) <= 3;
  console.log('');
  console.log(formatTable(['ratio (per round)', 'median [min–max]'], [
    ['bus p50 ÷ node:dgram p50 (goal ≤ 3)', `${cell(toDgram, f2)} — ${met ? 'met' : 'NOT met'}`],
    ['bus p50 ÷ bare channel (as the bus opens it) p50: the bus layer', cell(toBare, f2)],
    ['bare channel p50 ÷ node:dgram p50', cell(bareToDgram, f2)],
    ['bare channel p50 ÷ latency-worker channel p50: one group, member, paceTo', cell(bareToChannel, f2)],
    ['bus p50 ÷ latency-worker channel p50', cell(toChannel, f2)],
    ['latency-worker channel p50 ÷ node:dgram p50', cell(channelToDgram, f2)],
    [`bus req/s ÷ bare channel req/s (${s.window} in flight)`, cell(busPerSec.map((b, i) => b / barePerSec[i]!), (n) => n.toFixed(3))],
    [`bus req/s ÷ node:dgram req/s (${s.window} in flight)`, cell(busPerSec.map((b, i) => b / dgramPerSec[i]!), (n) => n.toFixed(3))],
  ]));
}

// ---------------------------------------------------------------- 2. task throughput

interface TaskRun {
  perSec: number;
  elapsedMs: number;
  split: number[];
  retried: number;
  failed: number;
  sentPerTask: number;
  receivedPerTask: number;
  cpuPerTask: number;
}

async function tasksOnce(lab: LabType, s: Settings, capacity: number, flags: { submitter?: string[]; worker?: string[] } = {}): Promise<TaskRun> {
  const group = busGroup();
  const queue = 'bench';
  const workers: Proc[] = [];
  let submitter: Proc | undefined;
  try {
    for (let h = 1; h <= TASK_WORKERS; h++) {
      workers.push(start(lab, h, BUS_WORKER, { role: 'task-work', group, iface: lab.hosts[h]!.ipv4, ttl: TTL, queue, capacity } satisfies BusBenchConfig, 'task-work', h === 1 ? flags.worker : undefined));
    }
    await Promise.all(workers.map((w) => w.ready()));
    submitter = start(lab, 0, BUS_WORKER, {
      role: 'task-submit', group, iface: lab.hosts[0]!.ipv4, ttl: TTL, queue, workers: TASK_WORKERS, tasks: s.tasks, leaseMs: 10_000, size: SIZE,
    } satisfies BusBenchConfig, 'task-submit', flags.submitter);
    const r = await submitter.result<SubmitResult>();
    await Promise.all(workers.map((w) => w.result(true)));
    return { perSec: r.tasks / (r.elapsedMs / 1000), elapsedMs: r.elapsedMs, split: Object.values(r.perWorker).sort((a, b) => b - a), retried: r.retried, failed: r.failed,
      sentPerTask: r.datagramsSentPerTask, receivedPerTask: r.datagramsReceivedPerTask, cpuPerTask: r.cpuUsPerTask,
    };
  } finally {
    submitter?.kill();
    for (const w of workers) w.kill();
  }
}

async function taskThroughput(lab: LabType, s: Settings): Promise<void> {
  const runs = new Map<number, TaskRun[]>(CAPACITIES.map((c) => [c, []]));
  let failures = 0;
  for (let round = 0; round < s.runs; round++) {
    for (let k = 0; k < CAPACITIES.length; k++) {
      const capacity = CAPACITIES[(k + round) % CAPACITIES.length]!;
      try {
        const r = await tasksOnce(lab, s, capacity);
        runs.get(capacity)!.push(r);
        process.stderr.write(`round ${round + 1}/${s.runs} capacity ${capacity}: ${r.perSec.toFixed(0)} tasks/s (${r.elapsedMs.toFixed(0)} ms; ${r.split.join('/')}), load ${loadavg()[0]!.toFixed(2)}\n`);
      } catch (err) {
        failures++;
        process.stderr.write(`round ${round + 1}/${s.runs} capacity ${capacity} failed: ${(err as Error).message}\n`);
      }
    }
  }
  const rows = CAPACITIES.map((c) => {
    const r = runs.get(c)!;
    const mid = [...r].sort((a, b) => a.perSec - b.perSec)[r.length >> 1];
    return [String(c), `${r.length}/${s.runs}`, cell(r.map((x) => x.perSec)), cell(r.map((x) => x.elapsedMs)), mid ? mid.split.join(' / ') : '—',
      cell(r.map((x) => x.cpuPerTask)), `${cell(r.map((x) => x.sentPerTask), (n) => n.toFixed(2))} / ${cell(r.map((x) => x.receivedPerTask), (n) => n.toFixed(2))}`,
      String(r.reduce((sum, x) => sum + x.retried, 0)), String(r.reduce((sum, x) => sum + x.failed, 0))];
  });
  console.log(`\n2. Task throughput — one submitter (h0) submits ${s.tasks} tasks of ${SIZE} B at once; ${TASK_WORKERS} workers (h1–h3), no-op handler, lease 10 s`);
  console.log(`   tasks/s = tasks ÷ (first submit() → last result); ${s.runs} interleaved rounds; median [min–max]${failures ? `; ${failures} run(s) failed` : ''}\n`);
  console.log(formatTable(['capacity per worker', 'runs ok', 'tasks/s', `ms for ${s.tasks}`, 'tasks per worker (median run)', 'submitter CPU µs/task', 'submitter datagrams sent / received per task', 'retried', 'failed'], rows));
}

// ---------------------------------------------------------------- 3. re-offer after a kill

interface ReofferRun {
  firstMs: number;
  lastMs: number;
  leasesExpired: number;
  reoffered: number;
  deadBoundMs: number;
}

async function reofferOnce(lab: LabType, leaseMs: number): Promise<ReofferRun> {
  const group = busGroup();
  const queue = 'held';
  const common = { group, ttl: TTL, queue, capacity: HELD_TASKS, report: true };
  const victim = start(lab, 1, BUS_WORKER, { role: 'task-work', iface: lab.hosts[1]!.ipv4, ...common, hang: true } satisfies BusBenchConfig, 'victim');
  const survivor = start(lab, 2, BUS_WORKER, { role: 'task-work', iface: lab.hosts[2]!.ipv4, ...common, workAt: 'command' } satisfies BusBenchConfig, 'survivor');
  let submitter: Proc | undefined;
  try {
    await Promise.all([victim.ready(), survivor.ready()]);
    submitter = start(lab, 0, BUS_WORKER, {
      role: 'task-submit', group, iface: lab.hosts[0]!.ipv4, ttl: TTL, queue, workers: 1, tasks: HELD_TASKS, leaseMs, size: SIZE,
    } satisfies BusBenchConfig, 'submitter');
    await victim.until(`${HELD_TASKS} tasks started`, () => victim.count('started') >= HELD_TASKS);
    survivor.send('work');
    await survivor.until('working', () => survivor.count('working') > 0);
    // A random phase against the victim's renewals (every leaseMs / 3).
    await sleep(1000 + Math.random() * 1000);
    const killedUs = nowUs();
    victim.child.kill('SIGKILL');
    await survivor.until(`${HELD_TASKS} tasks re-offered`, () => survivor.count('started') >= HELD_TASKS, leaseMs + 30_000);
    const starts = survivor.lines.filter((l) => 'started' in l).map((l) => ((l['atUs'] as number) - killedUs) / 1000);
    const r = await submitter.result<SubmitResult>();
    await survivor.result(true);
    if (r.failed > 0) throw new Error(`${r.failed} tasks failed`);
    return { firstMs: Math.min(...starts), lastMs: Math.max(...starts), leasesExpired: r.stats.leasesExpired, reoffered: r.stats.tasksReoffered, deadBoundMs: r.deadBoundMs };
  } finally {
    submitter?.kill();
    victim.kill();
    survivor.kill();
  }
}

async function reoffer(lab: LabType, s: Settings): Promise<void> {
  const runs = new Map<number, ReofferRun[]>(LEASES_MS.map((l) => [l, []]));
  let failures = 0;
  for (let round = 0; round < s.runs; round++) {
    for (let k = 0; k < LEASES_MS.length; k++) {
      const leaseMs = LEASES_MS[(k + round) % LEASES_MS.length]!;
      try {
        const r = await reofferOnce(lab, leaseMs);
        runs.get(leaseMs)!.push(r);
        process.stderr.write(`round ${round + 1}/${s.runs} lease ${leaseMs} ms: re-started at the survivor ${r.firstMs.toFixed(0)}–${r.lastMs.toFixed(0)} ms after the kill; leases expired ${r.leasesExpired}, re-offered ${r.reoffered}\n`);
      } catch (err) {
        failures++;
        process.stderr.write(`round ${round + 1}/${s.runs} lease ${leaseMs} ms failed: ${(err as Error).message}\n`);
      }
    }
  }
  const rows = LEASES_MS.map((leaseMs) => {
    const r = runs.get(leaseMs)!;
    const byLease = r.filter((x) => x.leasesExpired > 0).length;
    return [`${leaseMs / 1000} s`, `${r.length}/${s.runs}`, cell(r.map((x) => x.firstMs)), cell(r.map((x) => x.lastMs)),
      `lease lapsed ${byLease}, member dead ${r.length - byLease}`, cell(r.map((x) => x.deadBoundMs))];
  });
  console.log(`\n3. Re-offer after SIGKILL — a worker (h1) holding ${HELD_TASKS} tasks is killed; ms from the kill until the other worker (h2) starts each of them`);
  console.log(`   the kill comes 1–2 s after the survivor started working (random phase against renewals every lease/3); ${s.runs} runs per lease${failures ? `; ${failures} run(s) failed` : ''}\n`);
  console.log(formatTable(['lease', 'runs ok', 'first task re-started, ms', 'last task re-started, ms', 'noticed by (runs)', 'deadBoundMs (membership)'], rows));
}

// ---------------------------------------------------------------- profile

async function profile(lab: LabType, s: Settings): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'blipcast-bus-prof-'));
  // The low-rate part only: what one request costs, not the saturation.
  const quiet: Settings = { ...s, saturationMs: 1, window: 1 };
  try {
    for (const side of ['requester', 'server'] as const) {
      const sideDir = join(dir, side);
      const flags = ['--cpu-prof', '--cpu-prof-dir', sideDir];
      const r = await busOnce(lab, quiet, side === 'requester' ? { requester: flags } : { server: flags });
      const files = readdirSync(sideDir).filter((f) => f.endsWith('.cpuprofile'));
      console.log(`\nProfile of the ${side} (--cpu-prof; ${s.rate} req/s for ${(s.warmupMs + s.durationMs) / 1000} s; this run p50 ${r.run.p50.toFixed(0)} µs, p99 ${r.run.p99.toFixed(0)} µs) — top self time, idle excluded\n`);
      if (files.length === 0) console.log('(no profile written)');
      else console.log(formatTable(['function', 'self ms', 'share'], topFunctions(join(sideDir, files[0]!), 25)));
    }
    for (const side of ['submitter', 'worker'] as const) {
      const sideDir = join(dir, side);
      const flags = ['--cpu-prof', '--cpu-prof-dir', sideDir];
      const r = await tasksOnce(lab, s, PROFILED_CAPACITY, side === 'submitter' ? { submitter: flags } : { worker: flags });
      const files = readdirSync(sideDir).filter((f) => f.endsWith('.cpuprofile'));
      console.log(`\nProfile of the task ${side === 'worker' ? 'worker on h1' : 'submitter'} (--cpu-prof; ${s.tasks} tasks, capacity ${PROFILED_CAPACITY}; this run ${r.perSec.toFixed(0)} tasks/s) — top self time, idle excluded\n`);
      if (files.length === 0) console.log('(no profile written)');
      else console.log(formatTable(['function', 'self ms', 'share'], topFunctions(join(sideDir, files[0]!), 25)));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string' }, quick: { type: 'boolean' }, only: { type: 'string' }, profile: { type: 'boolean' }, verbose: { type: 'boolean' },
      rate: { type: 'string', default: '1000' }, 'duration-ms': { type: 'string' }, window: { type: 'string', default: '64' }, tasks: { type: 'string', default: '10000' },
    },
  });
  verbose = values.verbose === true;
  const quick = values.quick === true;
  const only = values.only;
  if (only !== undefined && !['rr', 'tasks', 'reoffer', 'profile'].includes(only)) throw new RangeError(`--only must be rr, tasks, reoffer or profile, got ${only}`);
  const runs = Number(values.runs ?? (quick ? 1 : 5));
  if (!Number.isInteger(runs) || runs < 1) throw new RangeError(`--runs must be a positive integer, got ${values.runs}`);
  const s: Settings = {
    runs, rate: Number(values.rate), durationMs: Number(values['duration-ms'] ?? (quick ? 2000 : 5000)), warmupMs: 500,
    window: Number(values.window), saturationMs: quick ? 1000 : 3000, tasks: Number(values.tasks),
  };
  if (!requireRoot('the bus benchmark (lab hosts)')) return;
  const { Lab } = await import('../test/lab/lab.js');
  const lab = await Lab.create({ hosts: 4, name: 'busbench' });
  const onSignal = (): void => {
    lab.destroySync();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const started = performance.now();
  try {
    console.log(`blipcast service-bus benchmark — 4 lab hosts (network namespaces, veth + bridge, ${lab.subnet4}, TTL ${TTL})`);
    console.log(`node ${process.version}, ${new Date().toISOString()}, load average ${loadavg().map((x) => x.toFixed(2)).join(' ')} at start`);
    if (only === undefined || only === 'rr') await requestReply(lab, s);
    if (only === undefined || only === 'tasks') await taskThroughput(lab, s);
    if (only === undefined || only === 'reoffer') await reoffer(lab, s);
    if (values.profile === true || only === 'profile') await profile(lab, s);
    console.log(`\n(total ${((performance.now() - started) / 1000).toFixed(0)} s, load average ${loadavg().map((x) => x.toFixed(2)).join(' ')} at the end)`);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await lab.destroy();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
