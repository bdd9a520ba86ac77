/**
 * Replicated-state benchmark (issue 14): `blipcast/state` maps in separate
 * processes on loopback (interface 127.0.0.1, TTL 0), next to a bare channel
 * carrying the same entries in the same run.
 *
 *   npm run bench:state                  (= npm run build && node dist/bench/state.js)
 *   node dist/bench/state.js [--runs 5] [--only updates,join] [--systems map,batched,entry,bulk] [--duration-ms 3000]
 *       [--batch 100] [--entries 100000] [--quiet-ms 30000] [--verbose] [--profile] [--defer-to PATTERN]
 *
 * 1. Updates: three replicas of one map, each its own process. One sets fresh
 *    keys (`key-000123` → a 30-character string) for `duration-ms`, `batch`
 *    per event-loop turn (one delta message per turn), waiting for the
 *    channel's 'drain' after a back-pressured delta; the other two count the
 *    'change' events they apply. Reported: writes/s at the writer (first →
 *    last write), changes applied/s at each reader (the writer's first write
 *    → the reader's last change, one wall clock), applied of written, CPU per
 *    write and per change, and whether the three digests agree at the end.
 *    References, same processes and pacing, a bare channel and a Map at each
 *    reader: `batched` — the turn's entries as one JSON array message, what an
 *    application writes by hand instead of the map (the map's cost is the
 *    ratio); `entry` — one JSON message per entry; `bulk` — 8 KiB messages,
 *    the channel's throughput on loopback (the part 3 reference).
 * 2. Late join: a seed replica fills the map with `entries` entries and stays
 *    quiet; a new replica opens its channel and map and waits for synced()
 *    (a complete snapshot cycle at the default DEFAULT_SNAPSHOT_BYTES_PER_SEC).
 *    Reported: time to synced, the snapshot bytes the seed sent meanwhile,
 *    and that the joiner's size and digest equal the seed's.
 * 3. Snapshot bandwidth while quiet: each replica's snapshotBytesSent (and
 *    all its datagram bytes) over `quiet-ms` (default: one background cycle
 *    interval, DEFAULT_SNAPSHOT_INTERVAL_MS), first the seed alone, then with
 *    the synced joiner, as a share of a 1 Gbit/s and a 10 Gbit/s link and of
 *    the `bulk` throughput measured in part 1 of the same run.
 *
 * Each round runs part 1's four systems (the order rotated every round), then
 * parts 2 and 3 on one seed; every cell is the median of the rounds with
 * [min–max]. `--profile` adds one map run with the writer under
 * `node --cpu-prof` and one with a reader, and prints their top functions.
 * `--defer-to PATTERN` (a `pgrep -f` pattern, e.g. lab-scenarios) shares a
 * machine: no run starts while such a process runs, and a run that one
 * overlapped is discarded and run again.
 */

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_SNAPSHOT_BYTES_PER_SEC, DEFAULT_SNAPSHOT_INTERVAL_MS } from '../src/state/index';
import { topFunctions } from './reliable-profile';
import { randomGroup, randomPort } from './runner';
import type { JoinResult, RawMode, ReadResult, StateBenchConfig, StatsLine, WriteResult } from './state-worker';
import { formatTable, median } from './table';

const WORKER = join(__dirname, 'state-worker.js');
/** A process still running this long after it started is killed and its run fails. */
const PROCESS_TIMEOUT_MS = 180_000;
/** Kernel socket buffers for every channel (map and references alike), as bench/runner.ts asks. */
const SOCKET_BUFFER_BYTES = 8 << 20;
const READERS = 2;
/** Part 1's bulk reference: messages of 8 KiB (bench/state-worker.ts BULK_BYTES), this many per turn. */
const BULK_PER_TURN = 16;
/** Entries per turn when the seed fills its map. */
const SEED_BATCH = 1000;
const LINK_BYTES_PER_SEC = { '1 Gbit/s': 1e9 / 8, '10 Gbit/s': 10e9 / 8 };

let verbose = false;

type Line = Record<string, unknown>;

/** Every worker process still running (--defer-to kills them all at once). */
const live = new Set<Proc>();

/** A worker process: its JSON lines as they come, commands on stdin. */
class Proc {
  readonly lines: Line[] = [];
  private err = '';
  private wake: (() => void)[] = [];
  private exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  readonly exited: Promise<void>;
  private readonly timer: NodeJS.Timeout;
  private readonly child: ChildProcess;

  constructor(cfg: StateBenchConfig, readonly name: string, nodeFlags: string[] = []) {
    this.child = spawn(process.execPath, [...nodeFlags, WORKER, JSON.stringify(cfg)], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      let nl: number;
      while ((nl = out.indexOf('\n')) !== -1) {
        const text = out.slice(0, nl);
        out = out.slice(nl + 1);
        if (text.startsWith('{')) this.lines.push(JSON.parse(text) as Line);
        if (verbose) process.stderr.write(`[${name}] ${text.slice(0, 300)}\n`);
        this.notify();
      }
    });
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.err += d));
    this.child.stdin!.on('error', () => undefined);
    live.add(this);
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => {
      live.delete(this);
      this.exit = { code, signal };
      clearTimeout(this.timer);
      if (code !== 0 && this.err.trim()) process.stderr.write(`[${name}] ${this.err.trim().split('\n').slice(-8).join(`\n[${name}] `)}\n`);
      this.notify();
      resolve();
    }));
    this.timer = setTimeout(() => this.child.kill('SIGKILL'), PROCESS_TIMEOUT_MS);
  }

  private notify(): void {
    for (const f of this.wake.splice(0)) f();
  }

  /** The first line after the first `skip` lines for which `match` holds; rejects when the process exits first or after `timeoutMs`. */
  async line<T = Line>(what: string, match: (l: Line) => boolean, timeoutMs = 60_000, skip = 0): Promise<T> {
    const t0 = performance.now();
    for (;;) {
      const found = this.lines.slice(skip).find(match);
      if (found !== undefined) return found as T;
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

  ready(timeoutMs?: number): Promise<Line> {
    return this.line('ready', (l) => l['ready'] === true, timeoutMs);
  }

  send(command: string): void {
    this.child.stdin!.write(`${command}\n`);
  }

  /** Asks for a StatsLine and waits for it. */
  async stats(): Promise<StatsLine> {
    const skip = this.lines.length;
    this.send('stats');
    return (await this.line<{ stats: StatsLine }>('stats', (l) => 'stats' in l, 10_000, skip)).stats;
  }

  /** Says `stop` and waits for the exit (killing it after `ms`). */
  async stop(ms = 15_000): Promise<void> {
    if (this.exit !== undefined) return;
    this.child.stdin!.end('stop\n');
    const t = setTimeout(() => this.kill(), ms);
    await this.exited;
    clearTimeout(t);
  }

  kill(): void {
    if (this.exit === undefined) this.child.kill('SIGKILL');
  }

  private stderrTail(): string {
    const t = this.err.trim();
    return t ? `: ${t.split('\n').slice(-5).join(' | ')}` : '';
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function newGroup(): string {
  return `${randomGroup()}:${randomPort()}`;
}

/** `median [min–max]` of the finite values, each through `f`. */
function cell(values: number[], f: (n: number) => string = (n) => n.toFixed(0)): string {
  const v = values.filter((x) => Number.isFinite(x));
  if (v.length === 0) return '—';
  if (v.length === 1) return f(v[0]!);
  return `${f(median(v))} [${f(Math.min(...v))}–${f(Math.max(...v))}]`;
}

const k = (n: number): string => (n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : `${(n / 1e3).toFixed(1)} k`);
const mb = (n: number): string => `${(n / 1e6).toFixed(2)}`;
const pct = (n: number): string => (n < 0.1 ? `${n.toFixed(3)} %` : `${n.toFixed(1)} %`);

// ---------------------------------------------------------------- 1. updates

type System = 'map' | RawMode;
const ALL_SYSTEMS: System[] = ['map', 'batched', 'entry', 'bulk'];
let SYSTEMS = ALL_SYSTEMS;
const LABELS: Record<System, string> = {
  map: 'blipcast/state map, 3 replicas (1 writer)',
  batched: 'bare channel, one JSON message of the turn\'s entries',
  entry: 'bare channel, one JSON message per entry',
  bulk: 'bare channel, 8 KiB messages (loopback throughput)',
};

interface UpdatesRun {
  writesPerSec: number;
  /** Per reader: applied per second from the writer's first write to the reader's last change. */
  appliedPerSec: number[];
  appliedShare: number;
  readerBytesPerSec: number;
  writerCpuUs: number;
  readerCpuUs: number;
  lagMs: number;
  drainWaits: number;
  digestsEqual: boolean | undefined;
  writer: WriteResult;
  readers: ReadResult[];
}

interface Settings {
  runs: number;
  durationMs: number;
  batch: number;
  entries: number;
  quietMs: number;
}

/** `profile`: node flags for the writer or the first reader (--profile). */
async function updatesOnce(system: System, s: Settings, profile: { writer?: string[]; reader?: string[] } = {}): Promise<UpdatesRun> {
  const base = { group: newGroup(), name: 'bench', socketBufferBytes: SOCKET_BUFFER_BYTES };
  const map = system === 'map';
  const readers = Array.from({ length: READERS }, (_, i) => new Proc({ ...base, role: map ? 'map-read' : 'raw-read', ...(map ? {} : { mode: system }) }, `${system}-read${i + 1}`, i === 0 ? profile.reader : []));
  let writer: Proc | undefined;
  try {
    await Promise.all(readers.map((r) => r.ready()));
    writer = new Proc({
      ...base, role: map ? 'map-write' : 'raw-write', readers: READERS, durationMs: s.durationMs,
      batch: system === 'bulk' ? BULK_PER_TURN : s.batch, ...(map ? {} : { mode: system }),
    }, `${system}-write`, profile.writer);
    const w = await writer.line<WriteResult>('result', (l) => 'role' in l);
    for (const r of readers) r.send(`report ${w.writes}`);
    const rs = await Promise.all(readers.map((r) => r.line<ReadResult>('result', (l) => 'role' in l)));
    const spanS = (r: ReadResult): number => Math.max(1, r.lastAt - w.t0) / 1000;
    const slowest = rs.reduce((a, b) => (a.lastAt > b.lastAt ? a : b));
    return {
      writesPerSec: w.writes / ((w.t1 - w.t0) / 1000),
      appliedPerSec: rs.map((r) => r.applied / spanS(r)),
      appliedShare: Math.min(...rs.map((r) => r.applied)) / w.writes,
      readerBytesPerSec: slowest.bytes / spanS(slowest),
      writerCpuUs: w.cpuUs / w.writes,
      readerCpuUs: median(rs.map((r) => r.cpuUs / Math.max(1, r.applied))),
      lagMs: slowest.lastAt - w.t1,
      drainWaits: w.drainWaits,
      digestsEqual: map ? rs.every((r) => r.digest === w.digest) : undefined,
      writer: w,
      readers: rs,
    };
  } finally {
    await Promise.all([writer?.stop(), ...readers.map((r) => r.stop())]);
  }
}

// ---------------------------------------------------------------- 2 and 3. late join, quiet snapshot cycle

interface JoinRun {
  fillMs: number;
  syncMs: number;
  snapshotBytes: number;
  chunksReceived: number;
  syncRequestsSent: number;
  equal: boolean;
  /** Snapshot bytes of one whole cycle of the seed's map. */
  cycleBytes: number;
  /** Bytes per second while quiet: snapshot payload and all datagram bytes, the seed alone, then seed and joiner. */
  aloneSnapshot: number;
  aloneWire: number;
  seedSnapshot: number;
  seedWire: number;
  joinerSnapshot: number;
  joinerWire: number;
}

async function joinOnce(s: Settings): Promise<JoinRun> {
  const base = { group: newGroup(), name: 'sessions', socketBufferBytes: SOCKET_BUFFER_BYTES };
  const seed = new Proc({ ...base, role: 'seed', entries: s.entries, batch: SEED_BATCH }, 'seed');
  let joiner: Proc | undefined;
  try {
    const filled = await seed.ready(120_000) as { fillMs: number; size: number; digest: string };
    await sleep(500);
    const a0 = await seed.stats();
    await sleep(s.quietMs);
    const a1 = await seed.stats();
    joiner = new Proc({ ...base, role: 'join' }, 'join');
    const j = await joiner.line<JoinResult>('synced', (l) => l['role'] === 'join', 120_000);
    const after = await seed.stats();
    await sleep(1000);
    const q0 = await Promise.all([seed.stats(), joiner.stats()]);
    await sleep(s.quietMs);
    const q1 = await Promise.all([seed.stats(), joiner.stats()]);
    const perSec = (x0: StatsLine, x1: StatsLine, f: (x: StatsLine) => number): number => (f(x1) - f(x0)) / ((x1.at - x0.at) / 1000);
    const snap = (x: StatsLine): number => x.map.snapshotBytesSent;
    const wire = (x: StatsLine): number => x.bytesSent;
    return {
      fillMs: filled.fillMs,
      syncMs: j.syncMs,
      snapshotBytes: after.map.snapshotBytesSent - a1.map.snapshotBytesSent,
      chunksReceived: j.stats.snapshotChunksReceived,
      syncRequestsSent: j.stats.syncRequestsSent,
      cycleBytes: Math.max(a1.cycleBytes, after.cycleBytes, q1[0].cycleBytes, q1[1].cycleBytes),
      equal: j.size === filled.size && filled.size === s.entries && j.digest === filled.digest && q1[1].digest === q1[0].digest,
      aloneSnapshot: perSec(a0, a1, snap), aloneWire: perSec(a0, a1, wire),
      seedSnapshot: perSec(q0[0], q1[0], snap), seedWire: perSec(q0[0], q1[0], wire),
      joinerSnapshot: perSec(q0[1], q1[1], snap), joinerWire: perSec(q0[1], q1[1], wire),
    };
  } finally {
    await Promise.all([joiner?.stop(), seed.stop()]);
  }
}

/** One map run with the writer under `node --cpu-prof`, then one with a reader: their top self-time functions. */
async function profileMap(s: Settings): Promise<string[]> {
  const out: string[] = [];
  for (const side of ['writer', 'reader'] as const) {
    const dir = mkdtempSync(join(tmpdir(), 'blipcast-state-prof-'));
    try {
      const r = await updatesOnce('map', s, { [side]: ['--cpu-prof', '--cpu-prof-dir', dir] });
      const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
      out.push(`map ${side} under --cpu-prof: ${k(r.writesPerSec)} writes/s, applied/s ${r.appliedPerSec.map(k).join(' / ')}`, '');
      out.push(file === undefined ? '(no profile written)' : formatTable(['function (self time)', 'ms', 'share'], topFunctions(join(dir, file), 15)), '');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return out;
}

// ---------------------------------------------------------------- sharing the machine

/** --defer-to: a `pgrep -f` pattern of processes (another team's lab series) that no run may overlap. */
let deferTo: string | undefined;

function deferredRunning(): boolean {
  if (deferTo === undefined) return false;
  try {
    const pids = execFileSync('pgrep', ['-f', deferTo], { encoding: 'utf8' }).split('\n').map(Number);
    return pids.some((pid) => pid > 0 && pid !== process.pid);
  } catch {
    return false; // pgrep exits 1 when nothing matches
  }
}

/** Runs `body` when no --defer-to process runs; when one started meanwhile, discards the run and waits to run it again. */
async function deferring<T>(body: () => Promise<T>): Promise<T> {
  for (;;) {
    if (deferredRunning()) {
      process.stderr.write(`waiting: a '${deferTo}' process runs\n`);
      while (deferredRunning()) await sleep(5000);
      await sleep(10_000); // its processes' exit and the load they leave behind
    }
    let overlapped = false;
    // The moment one starts, this run's processes are killed: the lab gets the machine, the run is discarded.
    const watch = deferTo === undefined ? undefined : setInterval(() => {
      if (overlapped || !deferredRunning()) return;
      overlapped = true;
      for (const p of live) p.kill();
    }, 1000);
    try {
      const r = await body();
      if (!overlapped) return r;
    } catch (err) {
      if (!overlapped) throw err;
    } finally {
      clearInterval(watch);
    }
    process.stderr.write(`a '${deferTo}' process started during the run: killed it, discarded, run again\n`);
  }
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '5' }, only: { type: 'string' }, systems: { type: 'string' }, 'duration-ms': { type: 'string', default: '3000' }, batch: { type: 'string', default: '100' },
      entries: { type: 'string', default: '100000' }, 'quiet-ms': { type: 'string', default: String(DEFAULT_SNAPSHOT_INTERVAL_MS) }, verbose: { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false }, 'defer-to': { type: 'string' },
    },
  });
  verbose = values.verbose!;
  deferTo = values['defer-to'];
  const s: Settings = {
    runs: Number(values.runs), durationMs: Number(values['duration-ms']), batch: Number(values.batch), entries: Number(values.entries), quietMs: Number(values['quiet-ms']),
  };
  for (const [name, v] of Object.entries(s)) if (!Number.isInteger(v) || v < 1) throw new RangeError(`--${name} must be a positive integer, got ${v}`);
  if (values.systems !== undefined) SYSTEMS = ALL_SYSTEMS.filter((x) => values.systems!.split(',').includes(x));
  const only = new Set((values.only ?? 'updates,join').split(','));
  const load0 = loadavg()[0]!;
  const updates = new Map<System, UpdatesRun[]>(ALL_SYSTEMS.map((x) => [x, []]));
  const failures = new Map<string, number>();
  const joins: JoinRun[] = [];
  const fail = (what: string, err: unknown): void => {
    failures.set(what, (failures.get(what) ?? 0) + 1);
    process.stderr.write(`${what} failed: ${(err as Error).message}\n`);
  };
  for (let round = 0; round < s.runs; round++) {
    if (only.has('updates')) {
      for (let i = 0; i < SYSTEMS.length; i++) {
        const system = SYSTEMS[(i + round) % SYSTEMS.length]!;
        try {
          const r = await deferring(() => updatesOnce(system, s));
          updates.get(system)!.push(r);
          process.stderr.write(`round ${round + 1}/${s.runs} ${system}: ${k(r.writesPerSec)} writes/s, applied/s ${r.appliedPerSec.map(k).join(' / ')}, ${(r.appliedShare * 100).toFixed(1)} % applied, lag ${r.lagMs.toFixed(0)} ms, ${r.drainWaits} drain waits, load ${loadavg()[0]!.toFixed(2)}\n`);
        } catch (err) {
          fail(system, err);
        }
      }
    }
    if (only.has('join')) {
      try {
        const j = await deferring(() => joinOnce(s));
        joins.push(j);
        process.stderr.write(`round ${round + 1}/${s.runs} join: ${s.entries} entries synced in ${j.syncMs.toFixed(0)} ms, ${mb(j.snapshotBytes)} MB of snapshot meanwhile, equal ${j.equal}; quiet snapshot B/s alone ${j.aloneSnapshot.toFixed(0)}, seed ${j.seedSnapshot.toFixed(0)}, joiner ${j.joinerSnapshot.toFixed(0)}, load ${loadavg()[0]!.toFixed(2)}\n`);
      } catch (err) {
        fail('join', err);
      }
    }
  }

  const out: string[] = [];
  out.push(`node ${process.version}, ${cpus()[0]?.model ?? '?'} × ${cpus().length}, load average ${load0.toFixed(1)} at start; ${s.runs} interleaved rounds; loopback (127.0.0.1, TTL 0); median [min–max]`);
  if (only.has('updates')) {
    out.push('', `1. Updates: 1 writer → ${READERS} readers, ${s.durationMs} ms of writes per run, ${s.batch} entries per event-loop turn (bulk: ${BULK_PER_TURN} × 8 KiB); key-000123 → 30-char string`, '');
    const rows = SYSTEMS.map((system) => {
      const r = updates.get(system)!;
      const unit = system === 'bulk' ? ' msgs' : '';
      return [
        LABELS[system], `${r.length}/${s.runs}`, cell(r.map((x) => x.writesPerSec), k) + unit,
        ...Array.from({ length: READERS }, (_, i) => cell(r.map((x) => x.appliedPerSec[i]!), k)),
        cell(r.map((x) => x.readerBytesPerSec), mb), cell(r.map((x) => x.appliedShare * 100), (n) => n.toFixed(1)),
        cell(r.map((x) => x.writerCpuUs), (n) => n.toFixed(2)), cell(r.map((x) => x.readerCpuUs), (n) => n.toFixed(2)), cell(r.map((x) => x.lagMs)),
        system === 'map' ? `${r.filter((x) => x.digestsEqual).length}/${r.length}` : '',
      ];
    });
    out.push(formatTable(['system', 'runs', 'writes/s (writer)', ...Array.from({ length: READERS }, (_, i) => `applied/s reader ${i + 1}`), 'MB/s at slowest reader', 'applied % of written', 'writer CPU µs/write', 'reader CPU µs/change', 'last change after last write, ms', 'digests equal'], rows));
    const ratio = (ref: System): string => {
      const m = updates.get('map')!;
      const x = updates.get(ref)!;
      const n = Math.min(m.length, x.length);
      const rr = Array.from({ length: n }, (_, i) => Math.min(...m[i]!.appliedPerSec) / Math.min(...x[i]!.appliedPerSec));
      return cell(rr, (v) => v.toFixed(2));
    };
    out.push('', `map ÷ reference, slowest reader's applied/s, round by round: ÷ batched ${ratio('batched')}, ÷ per-entry ${ratio('entry')}`);
    const m = updates.get('map')!;
    if (m.length > 0) {
      const st = m.map((x) => x.writer.stats!);
      out.push(`map writer per run: ${cell(st.map((x) => x.deltasSent))} deltas, ${cell(m.map((x) => x.drainWaits))} drain waits, ${cell(st.map((x) => x.snapshotBytesSent / 1e6), (n) => n.toFixed(2))} MB of snapshot, ${cell(st.map((x) => x.sendErrors))} send errors; readers: ${cell(m.flatMap((x) => x.readers.map((r) => r.stats!.changesStale)))} stale, ${cell(m.flatMap((x) => x.readers.map((r) => r.stats!.resyncs)))} resyncs`);
    }
  }
  if (only.has('join')) {
    out.push('', `2. Late join: a seed holds ${s.entries} entries (key-000123 → 30-char JSON string), quiet; a new replica opens and waits for synced(); snapshot rate ${DEFAULT_SNAPSHOT_BYTES_PER_SEC} B/s (default)`, '');
    out.push(formatTable(['entries', 'runs', 'seed fill, ms', 'one snapshot cycle, MB', 'time to synced, ms', 'snapshot MB sent by the seed meanwhile', 'snapshot chunks received', 'sync requests sent', 'size and digest equal'], [[
      String(s.entries), `${joins.length}/${s.runs}`, cell(joins.map((j) => j.fillMs)), cell(joins.map((j) => j.cycleBytes), mb), cell(joins.map((j) => j.syncMs)), cell(joins.map((j) => j.snapshotBytes), mb),
      cell(joins.map((j) => j.chunksReceived)), cell(joins.map((j) => j.syncRequestsSent)), `${joins.filter((j) => j.equal).length}/${joins.length}`,
    ]]));
    const bulk = updates.get('bulk')!.map((x) => x.readerBytesPerSec);
    const loop = median(bulk);
    out.push('', `3. Snapshot cycle while quiet (${s.entries} entries, no writes), over ${s.quietMs} ms; loopback reference: bare channel ${Number.isFinite(loop) ? `${mb(loop)} MB/s` : 'not measured (--only)'} (part 1, bulk)`, '');
    const share = (v: number[], of: number): string => cell(v.map((x) => (x / of) * 100), pct);
    const row = (label: string, v: number[]): string[] => [label, cell(v, (n) => (n / 1e3).toFixed(1)), share(v, LINK_BYTES_PER_SEC['1 Gbit/s']), share(v, LINK_BYTES_PER_SEC['10 Gbit/s']), Number.isFinite(loop) ? share(v, loop) : '—'];
    out.push(formatTable(['replica, bytes', 'kB/s', 'share of 1 Gbit/s', 'share of 10 Gbit/s', 'share of loopback (bulk)'], [
      row('seed alone: snapshot payload', joins.map((j) => j.aloneSnapshot)),
      row('seed alone: all datagram bytes', joins.map((j) => j.aloneWire)),
      row('seed, joiner synced: snapshot payload', joins.map((j) => j.seedSnapshot)),
      row('joiner, synced: snapshot payload', joins.map((j) => j.joinerSnapshot)),
      row('both replicas: all datagram bytes', joins.map((j) => j.seedWire + j.joinerWire)),
    ]));
  }
  if (values.profile) out.push('', ...(await profileMap(s)));
  if (failures.size > 0) out.push('', `failed runs: ${[...failures].map(([w, n]) => `${w} ${n}`).join(', ')}`);
  process.stdout.write(`${out.join('\n')}\n`);
  if (failures.size > 0) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
