/**
 * The throughput part of bench:compare (compare.ts): the systems, one
 * receiver (h1) and one sender (h0) per run, every sender writing for the
 * same time, runs interleaved across systems, and two tables: every system's
 * rates, and blipcast ÷ the best reference that delivered everything.
 *
 * A run is sized by time, not by a message count: every sender writes for
 * `sendMs` (its library paces it: flow control, a rate limiter, a full
 * socket buffer), then says how many messages it wrote; the receiver stops
 * once it has delivered that many (or has seen nothing for `idleMs`). The
 * count each sender is given is only a ceiling, far above what any of them
 * reaches ({@link MAX_MSGS_PER_S}). Rate = delivered / (last − first message
 * at the receiver); "delivered everything" = the receiver delivered as many
 * as the sender wrote, judged per run.
 *
 * Order: for each loss level and size, run 1 of every system, then run 2 of
 * every system, …, so that whatever drifts on the machine while the suite
 * runs (other jobs, thermal state) meets every system alike, and run r of
 * blipcast and run r of a reference are a pair taken minutes apart at most.
 */

import { join } from 'node:path';
import type { Lab as LabType } from '../../test/lab/lab';
import type { DgramRecvResult, DgramSendResult, RecvResult, SendResult, WorkerConfig } from '../reliable-worker';
import { formatTable, median } from '../table';
import { type Built, type HarnessResult, ifaceArg, jvmCommand, pair, randomGroup, randomPort } from './procs';
import type { Progress } from './progress';

const RELIABLE_WORKER = join(__dirname, '..', 'reliable-worker.js');
/** Kernel socket buffers for the node workers (the C harnesses ask for the same 8 MiB). */
const SOCKET_BUFFER_BYTES = 8 << 20;
/** NORM rates (bit/s): the fixed rate, and the ceiling NORM-CC may climb to. */
const NORM_FIXED_BPS = 1e9;
const NORM_CC_MAX_BPS = 10e9;
/** OpenPGM rates (ZMQ_RATE, kbit/s). */
const PGM_LOW_KBPS = 500_000;
const PGM_HIGH_KBPS = 2_000_000;
/**
 * The ceiling on messages per second of writing that a sender is given as its
 * count. Senders write for a time; the count bounds memory only (blipcast's
 * receiver keeps a byte per message). The fastest measured here: 3.5 M msgs/s
 * (blipcast, 64 B) and 300 MB/s.
 */
const MAX_MSGS_PER_S = 10e6;
const MAX_BYTES_PER_S = 2e9;
/** Raw node:dgram's receiver ends on silence only (it cannot know the count); nothing is repaired, so 1 s of it is enough. */
const DGRAM_IDLE_MS = 1000;
/**
 * blipcast's close serves on for closeQuietMs (default 2.5 s) after every
 * receiver has acknowledged everything, in case a stalled receiver speaks up:
 * the receiver has reported by then, so it only lengthens each run.
 */
const BLIPCAST_CLOSE_QUIET_MS = 100;
/** The systems the ratio table takes the best of: the references, not blipcast's own fallback nor raw node:dgram. */
const REFERENCES = new Set(['norm', 'norm-cc', 'pgm-low', 'pgm-high', 'jgroups']);

export interface Cell {
  size: number;
  loss: number;
}

export interface Settings {
  runs: number;
  /** How long every sender writes, ms. */
  sendMs: number;
  /** A receiver gives up after this long without a message (once traffic started). */
  idleMs: number;
}

/** The count a sender is given: a ceiling well above what it can write in `sendMs`. */
function countCeiling(size: number, s: Settings): number {
  return Math.ceil((s.sendMs / 1000) * Math.min(MAX_MSGS_PER_S, MAX_BYTES_PER_S / size));
}

/** One run, normalised: what the sender wrote, what the receiver delivered over which span, and the CPU both sides used. */
interface Run {
  sent: number;
  delivered: number;
  bytes: number;
  spanMs: number;
  txCpuS: number;
  rxCpuS: number;
}

export interface System {
  id: string;
  label: string;
  /** Why it cannot run, if it cannot. */
  skip?: string;
  /** Why a cell does not apply to it, if it does not. */
  notFor?(cell: Cell): string | undefined;
  /**
   * What a run takes beyond the sender's writing time, ms (process starts,
   * joins, the receiver's end), measured on the lab machine: for the
   * duration estimate only.
   */
  overheadMs: number;
  run(lab: LabType, cell: Cell, s: Settings): Promise<Run>;
}

function fromHarness(t: HarnessResult, r: HarnessResult): Run {
  return {
    sent: t.sent ?? 0,
    delivered: r.delivered ?? 0,
    bytes: r.bytes ?? 0,
    spanMs: (r.lastMs ?? 0) - (r.firstMs ?? 0),
    txCpuS: ((t.cpuUserMs ?? 0) + (t.cpuSysMs ?? 0)) / 1000,
    rxCpuS: ((r.cpuUserMs ?? 0) + (r.cpuSysMs ?? 0)) / 1000,
  };
}

function nodeWorkerSystem(id: string, label: string, overheadMs: number, roles: ['recv', 'send'] | ['dgram-recv', 'dgram-send'], extra?: Record<string, unknown>, api?: WorkerConfig['api']): System {
  const raw = roles[0] === 'dgram-recv';
  return {
    id,
    label,
    overheadMs,
    notFor: raw ? (c) => (c.size > 65507 ? 'one datagram per message: larger than a UDP datagram can be' : undefined) : undefined,
    async run(lab, cell, s) {
      const group = randomGroup();
      const port = randomPort();
      // blipcast's receiver ends at the sender's end marker, which carries the count; raw node:dgram's on silence.
      const cfg = (host: number, role: WorkerConfig['role']): string => {
        const c: WorkerConfig = {
          role, group, port, iface: lab.hosts[host]!.ipv4, ttl: 1, count: countCeiling(cell.size, s), size: cell.size, receivers: 1,
          maxSendMs: s.sendMs, idleMs: raw ? DGRAM_IDLE_MS : s.idleMs, emulatedLoss: 0, socketBufferBytes: SOCKET_BUFFER_BYTES, ...(extra ? { extra } : {}),
          ...(api ? { api } : {}),
        };
        return JSON.stringify(c);
      };
      const [t, r] = await pair(lab, id, [process.execPath, [RELIABLE_WORKER, cfg(1, roles[0])]], [process.execPath, [RELIABLE_WORKER, cfg(0, roles[1])]], true);
      const tx = t as unknown as SendResult | DgramSendResult;
      const rx = r as unknown as RecvResult | DgramRecvResult;
      return { sent: tx.sent, delivered: rx.delivered, bytes: rx.bytes, spanMs: rx.spanMs, txCpuS: tx.cpuSeconds, rxCpuS: rx.cpuSeconds };
    },
  };
}

function harnessArgs(lab: LabType, host: number, binary: string, role: string, group: string, port: number, cell: Cell, s: Settings, extra: string[]): string[] {
  return [`role=${role}`, `group=${group}`, `port=${port}`, ifaceArg(lab, host, binary), `count=${countCeiling(cell.size, s)}`, `size=${cell.size}`,
    `maxSendMs=${s.sendMs}`, `idleMs=${s.idleMs}`, 'lingerMs=30000', ...extra];
}

function cSystem(id: string, label: string, overheadMs: number, binary: string | undefined, skip: string | undefined, extra: string[]): System {
  return {
    id,
    label,
    overheadMs,
    ...(binary === undefined ? { skip: skip ?? 'not built' } : {}),
    async run(lab, cell, s) {
      const group = randomGroup();
      const port = randomPort();
      const [t, r] = await pair(lab, id, [binary!, harnessArgs(lab, 1, binary!, 'recv', group, port, cell, s, extra)], [binary!, harnessArgs(lab, 0, binary!, 'send', group, port, cell, s, extra)], false);
      return fromHarness(t, r);
    },
  };
}

function jgroupsSystem(built: Built): System {
  return {
    id: 'jgroups',
    label: 'JGroups 2.12 (stock udp.xml)',
    // Two JVMs, and two joins, one after the other (the first member waits out discovery before it is coordinator).
    overheadMs: 3500,
    ...(built.jgroups === undefined ? { skip: built.skipped.get('jgroups') ?? 'not built' } : {}),
    async run(lab, cell, s) {
      const group = randomGroup();
      const port = randomPort();
      const cluster = `cmp-${process.pid}-${Math.floor(Math.random() * 1e9)}`;
      const jvm = (host: number, role: string): [string, string[]] => jvmCommand(built, lab, host, group, port,
        [`role=${role}`, `cluster=${cluster}`, 'members=2', `count=${countCeiling(cell.size, s)}`, `size=${cell.size}`, `maxSendMs=${s.sendMs}`, `idleMs=${s.idleMs}`, 'lingerMs=30000']);
      const [t, r] = await pair(lab, 'jgroups', jvm(1, 'recv'), jvm(0, 'send'), false);
      return fromHarness(t, r);
    },
  };
}

/** Every system, in table order; `skip` set on those whose reference is not built. */
export function systems(built: Built): System[] {
  const norm = (cc: boolean): string[] => (cc ? ['cc=1', `rate=${NORM_CC_MAX_BPS}`] : ['cc=0', `rate=${NORM_FIXED_BPS}`]);
  return [
    nodeWorkerSystem('blipcast', 'blipcast (native transport, batch read API)', 1000, ['recv', 'send'], { closeQuietMs: BLIPCAST_CLOSE_QUIET_MS }, 'batch'),
    nodeWorkerSystem('blipcast-dgram', 'blipcast (node:dgram fallback)', 1000, ['recv', 'send'], { transport: 'dgram', closeQuietMs: BLIPCAST_CLOSE_QUIET_MS }),
    nodeWorkerSystem('dgram', 'raw node:dgram (unreliable)', 500 + DGRAM_IDLE_MS, ['dgram-recv', 'dgram-send']),
    cSystem('norm', `NORM, fixed ${NORM_FIXED_BPS / 1e9} Gbit/s`, 500, built.norm, built.skipped.get('norm'), norm(false)),
    cSystem('norm-cc', `NORM-CC (≤ ${NORM_CC_MAX_BPS / 1e9} Gbit/s)`, 500, built.norm, built.skipped.get('norm'), norm(true)),
    cSystem('pgm-low', `OpenPGM/ZeroMQ, ${PGM_LOW_KBPS / 1e3} Mbit/s`, 500, built.pgm, built.skipped.get('pgm'), [`rate=${PGM_LOW_KBPS}`]),
    cSystem('pgm-high', `OpenPGM/ZeroMQ, ${PGM_HIGH_KBPS / 1e6} Gbit/s`, 500, built.pgm, built.skipped.get('pgm'), [`rate=${PGM_HIGH_KBPS}`]),
    jgroupsSystem(built),
  ];
}

/** The runs the suite will make, in order: per loss level and size, run 1 of every system, then run 2, … */
function plan(all: System[], sizes: number[], losses: number[], runs: number): { sys: System; cell: Cell; run: number }[] {
  const out: { sys: System; cell: Cell; run: number }[] = [];
  for (const loss of losses) {
    for (const size of sizes) {
      for (let run = 0; run < runs; run++) {
        for (const sys of all) if (sys.skip === undefined && sys.notFor?.({ size, loss }) === undefined) out.push({ sys, cell: { size, loss }, run });
      }
    }
  }
  return out;
}

/** The duration estimate of the throughput part, ms. */
export function estimateThroughputMs(all: System[], sizes: number[], losses: number[], s: Settings): number {
  return plan(all, sizes, losses, s.runs).reduce((sum, p) => sum + s.sendMs + p.sys.overheadMs, 0);
}

// ---------------------------------------------------------------- tables

function fmtRate(n: number): string {
  if (!Number.isFinite(n)) return '—';
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : `${(n / 1e3).toFixed(0)} k`;
}

function spread(values: number[], fmt: (n: number) => string): string {
  if (values.length === 1) return fmt(values[0]!);
  return `${fmt(median(values))} (${fmt(Math.min(...values))}–${fmt(Math.max(...values))})`;
}

function sizeLabel(size: number): string {
  return size >= 1024 ? `${size / 1024} KiB` : `${size} B`;
}

function msgsPerS(r: Run): number {
  return r.delivered / (Math.max(r.spanMs, 1) / 1000);
}

/** Every run made and every run delivered what its sender wrote. */
function complete(runs: (Run | undefined)[], expected: number): boolean {
  return runs.length === expected && runs.every((r) => r !== undefined && r.sent > 0 && r.delivered >= r.sent);
}

function deliveredNote(runs: (Run | undefined)[], expected: number): string {
  const made = runs.filter((r): r is Run => r !== undefined);
  const worst = Math.max(...made.map((r) => r.sent - r.delivered));
  const failed = expected - made.length;
  const missing = worst <= 0 ? 'all' : `missing ${worst} of ${Math.round(median(made.map((r) => r.sent)))}`;
  return failed > 0 ? `${missing}; ${failed} run(s) failed` : missing;
}

/**
 * blipcast ÷ the best reference per cell: the reference with the highest
 * median msgs/s among those that delivered everything in all their runs;
 * the ratio's median and range over the paired runs (run r ÷ run r).
 */
function ratioRows(all: System[], sizes: number[], losses: number[], s: Settings, results: Map<string, (Run | undefined)[]>, key: (id: string, c: Cell) => string): string[][] {
  const rows: string[][] = [];
  const refs = all.filter((sys) => REFERENCES.has(sys.id) && sys.skip === undefined);
  for (const size of sizes) {
    for (const loss of losses) {
      const cell = { size, loss };
      const label = [sizeLabel(size), `${loss * 100}%`];
      const ours = results.get(key('blipcast', cell)) ?? [];
      const oursMade = ours.filter((r): r is Run => r !== undefined);
      if (oursMade.length === 0) {
        rows.push([...label, 'failed', '', '', '', '']);
        continue;
      }
      const oursCell = [fmtRate(median(oursMade.map(msgsPerS))), deliveredNote(ours, s.runs)];
      let best: { sys: System; runs: Run[]; medianRate: number } | undefined;
      for (const ref of refs) {
        const runs = results.get(key(ref.id, cell)) ?? [];
        if (!complete(runs, s.runs)) continue;
        const medianRate = median((runs as Run[]).map(msgsPerS));
        if (best === undefined || medianRate > best.medianRate) best = { sys: ref, runs: runs as Run[], medianRate };
      }
      if (best === undefined) {
        rows.push([...label, ...oursCell, refs.length === 0 ? 'no reference was run' : 'none: no reference delivered everything in all its runs', '', '']);
        continue;
      }
      const ratios: number[] = [];
      for (let r = 0; r < s.runs; r++) {
        const a = ours[r];
        const b = best.runs[r];
        if (a !== undefined && b !== undefined) ratios.push(msgsPerS(a) / msgsPerS(b));
      }
      const x = (n: number): string => `${n.toFixed(2)}×`;
      const ratio = ratios.length === 0 ? '—' : ratios.length === 1 ? x(ratios[0]!) : `${x(median(ratios))} (${x(Math.min(...ratios))}–${x(Math.max(...ratios))})`;
      rows.push([...label, ...oursCell, best.sys.label, fmtRate(best.medianRate), `${ratio}${ratios.length < s.runs ? `, ${ratios.length} pair(s)` : ''}`]);
    }
  }
  return rows;
}

// ---------------------------------------------------------------- the runs

/** Runs every system over every loss level and size, interleaved, and prints both tables. Leaves the receiving host without a loss rule. */
export async function throughput(lab: LabType, all: System[], sizes: number[], losses: number[], s: Settings, progress: Progress): Promise<void> {
  const results = new Map<string, (Run | undefined)[]>();
  const failures = new Map<string, string>();
  const key = (id: string, c: Cell): string => `${id}|${c.size}|${c.loss}`;
  const steps = plan(all, sizes, losses, s.runs);
  let lossSet: number | undefined;
  try {
    for (const [i, step] of steps.entries()) {
      const { sys, cell, run } = step;
      // Loss is a property of the receiving host: set once per loss level.
      if (cell.loss !== lossSet) {
        await lab.setLoss(1, cell.loss);
        lossSet = cell.loss;
      }
      const where = `${sizeLabel(cell.size)}, ${cell.loss * 100}% loss, run ${run + 1}/${s.runs}: ${sys.label}`;
      progress.say(`${i + 1}/${steps.length} ${where}`);
      const startedMs = performance.now();
      const runs = results.get(key(sys.id, cell)) ?? [];
      results.set(key(sys.id, cell), runs);
      try {
        const r = await sys.run(lab, cell, s);
        runs[run] = r;
        const ceiling = countCeiling(cell.size, s);
        if (r.sent >= ceiling) process.stderr.write(`  ${where}: the sender reached its ceiling of ${ceiling} messages before ${s.sendMs} ms: raise MAX_MSGS_PER_S / MAX_BYTES_PER_S\n`);
        const tookS = ((performance.now() - startedMs) / 1000).toFixed(1);
        process.stderr.write(`  ${fmtRate(msgsPerS(r))} msgs/s, ${r.delivered >= r.sent ? 'all' : `missing ${r.sent - r.delivered} of ${r.sent}`} (run took ${tookS} s)\n`);
      } catch (err) {
        runs[run] = undefined;
        failures.set(key(sys.id, cell), (err as Error).message);
        process.stderr.write(`  run failed: ${(err as Error).message}\n`);
      }
      progress.done(s.sendMs + sys.overheadMs);
    }
  } finally {
    await lab.setLoss(1, 0);
  }

  const rows: string[][] = [];
  for (const sys of all) {
    if (sys.skip !== undefined) {
      rows.push([sys.label, '', '', `skipped: ${sys.skip}`, '', '', '', '']);
      continue;
    }
    for (const size of sizes) {
      for (const loss of losses) {
        const cell = { size, loss };
        const label = [sys.label, sizeLabel(size), `${loss * 100}%`];
        const na = sys.notFor?.(cell);
        if (na !== undefined) {
          rows.push([...label, `n/a: ${na}`, '', '', '', '']);
          continue;
        }
        const cellRuns = results.get(key(sys.id, cell)) ?? [];
        const runs = cellRuns.filter((r): r is Run => r !== undefined);
        if (runs.length === 0) {
          rows.push([...label, 'failed', '', (failures.get(key(sys.id, cell)) ?? '').slice(0, 60), '', '']);
          continue;
        }
        const perGb = (cpu: (r: Run) => number): string => {
          const v = median(runs.map((r) => (r.bytes > 0 ? cpu(r) / (r.bytes / 1e9) : NaN)));
          return Number.isFinite(v) ? v.toFixed(1) : '—';
        };
        const mbps = runs.map((r) => r.bytes / (Math.max(r.spanMs, 1) / 1000) / 1e6);
        rows.push([...label, spread(runs.map(msgsPerS), fmtRate), spread(mbps, (n) => n.toFixed(1)), deliveredNote(cellRuns, s.runs), perGb((r) => r.txCpuS), perGb((r) => r.rxCpuS)]);
      }
    }
  }
  console.log(`\n1. Throughput — one sender (h0) → one receiver (h1), every sender writing for ${s.sendMs / 1000} s; median of ${s.runs} run(s) (min–max)`);
  console.log('   msgs/s and MB/s = delivered message bytes over the receiver\'s first-to-last message; loss = random drop of UDP datagrams arriving at the receiver (nftables)');
  console.log('   delivered = whether the receiver delivered every message its sender wrote, in every run (else the worst run\'s shortfall)');
  console.log('   CPU s/GB = process CPU seconds (user + system, all threads) per GB of messages delivered; the sender\'s includes serving repairs');
  console.log('   where messages are missing, the rate is over the span of what did arrive (it can exceed the link when little did)\n');
  console.log(formatTable(['system', 'size', 'loss', 'msgs/s', 'MB/s', 'delivered', 'tx CPU s/GB', 'rx CPU s/GB'], rows));

  if (!all.some((sys) => sys.id === 'blipcast')) return;
  console.log(`\n1b. blipcast ÷ best reference — per cell, the reference (${[...REFERENCES].join(', ')}) with the highest median msgs/s among those that delivered`);
  console.log('   everything in all their runs; ratio = blipcast\'s msgs/s ÷ the reference\'s in the same run number (runs interleaved, so run r of both were');
  console.log(`   minutes apart at most): median (min–max) over the ${s.runs} pair(s)\n`);
  console.log(formatTable(['size', 'loss', 'blipcast msgs/s', 'blipcast delivered', 'best complete reference', 'its msgs/s', 'blipcast ÷ reference'], ratioRows(all, sizes, losses, s, results, key)));
}
