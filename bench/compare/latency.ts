/**
 * The latency part of bench:compare (compare.ts), two tables:
 *
 * 1. Round trip: 64 B messages h0 → h1 → h0 at {@link ROUND_TRIP_RATE} per
 *    second, no loss, through an echo process on h1 that writes every message
 *    back (blipcast, raw node:dgram, NORM and OpenPGM on a second group;
 *    JGroups on the same cluster with a marker byte). The pinging process
 *    records now − send time. Raw node:dgram (dgram-latency-worker.ts) is the
 *    floor: what Node and the lab's network take with no protocol at all.
 * 2. One-way at {@link ONEWAY_LOSS} receive loss (nftables on h1): 64 B
 *    messages h0 → h1 at {@link ONEWAY_RATE} per second, each carrying its
 *    CLOCK_MONOTONIC send time (all lab namespaces read the same clock), the
 *    receiver records now − send time per message and which ones never came.
 *    For blipcast the receiver also knows exactly which messages came only in
 *    a repair (bench/latency-worker.ts), shown as an extra row.
 *
 * How each role works per system: bench/compare/README.md.
 */

import { join } from 'node:path';
import type { Lab as LabType } from '../../test/lab/lab';
import type { LatencyConfig, OnewayResult, PingResult } from '../latency-worker';
import { formatTable } from '../table';
import type { DgramLatencyConfig } from './dgram-latency-worker';
import { type Built, ifaceArg, jvmCommand, pair, type Proc, randomGroup, randomPort, watch } from './procs';
import type { Progress } from './progress';

const LATENCY_WORKER = join(__dirname, '..', 'latency-worker.js');
const DGRAM_LATENCY_WORKER = join(__dirname, 'dgram-latency-worker.js');
/** Round trip: messages per second (low: each one travels alone). */
const ROUND_TRIP_RATE = 1000;
/** Round trip: samples from the first WARMUP_MS of the timed part are discarded. */
const WARMUP_MS = 500;
/** One-way: messages per second; at 1 % loss about 20 messages a second need a repair. */
const ONEWAY_RATE = 2000;
/** One-way: the fraction of UDP datagrams arriving at the receiving host that nftables drops. */
const ONEWAY_LOSS = 0.01;
/** One-way: the references' first second is not measured (sessions starting up; blipcast's sender waits for its receiver instead). */
const ONEWAY_WARMUP_MS = 1000;
/** One-way: a receiver gives up this long after the last measured message. */
const ONEWAY_IDLE_MS = 3000;
const MESSAGE_BYTES = 64;
/**
 * What a latency run takes beyond its timed part and warm-up, ms (process
 * starts, finding the peer, the tail: blipcast's close, two JVMs joining one
 * cluster), measured on the lab machine: for the duration estimate only.
 */
const RUN_OVERHEAD_MS: Record<LatencySystem, number> = { blipcast: 2500, dgram: 1500, norm: 500, pgm: 500, jgroups: 4000 };

/** Which systems to measure (compare.ts's --systems). */
export type LatencySystem = 'blipcast' | 'dgram' | 'norm' | 'pgm' | 'jgroups';

const LABELS: Record<LatencySystem | 'jgroups-nb', string> = {
  blipcast: 'blipcast (native transport)',
  dgram: 'raw node:dgram (no protocol)',
  norm: 'NORM (stream, push + passive flush per message)',
  pgm: 'OpenPGM/ZeroMQ (ZMQ_RATE 100 Mbit/s)',
  jgroups: 'JGroups 2.12 (stock udp.xml, bundling)',
  'jgroups-nb': 'JGroups 2.12 (stock udp.xml, DONT_BUNDLE)',
};

/**
 * JGroups twice: the stock stack bundles multicasts for up to
 * max_bundle_timeout (30 ms), which sets its latency at a low rate; a
 * latency-minded JGroups application flags its messages DONT_BUNDLE instead.
 */
const JGROUPS_VARIANTS: { label: string; args: string[] }[] = [
  { label: LABELS.jgroups, args: [] },
  { label: LABELS['jgroups-nb'], args: ['dontBundle=1'] },
];

/** The estimate of one latency run, ms: its timed part, the warm-up it discards, and what starting it takes. */
function runEstimateMs(table: 'round trip' | 'one way', id: LatencySystem, durationMs: number): number {
  const warmupMs = table === 'round trip' ? WARMUP_MS : id === 'blipcast' ? 0 : ONEWAY_WARMUP_MS;
  return durationMs + warmupMs + RUN_OVERHEAD_MS[id];
}

function durations(quick: boolean): { rtMs: number; owMs: number } {
  return quick ? { rtMs: 2000, owMs: 4000 } : { rtMs: 5000, owMs: 8000 };
}

/** The duration estimate of {@link latency} with these systems, ms. */
export function estimateLatencyMs(built: Built, quick: boolean, include: (id: LatencySystem) => boolean): number {
  const { rtMs, owMs } = durations(quick);
  const available: LatencySystem[] = ['blipcast', 'dgram'];
  if (built.norm) available.push('norm');
  if (built.pgm) available.push('pgm');
  let ms = 0;
  for (const id of available.filter(include)) {
    ms += runEstimateMs('round trip', id, rtMs);
    if (id !== 'dgram') ms += runEstimateMs('one way', id, owMs);
  }
  if (built.jgroups && include('jgroups')) ms += JGROUPS_VARIANTS.length * (runEstimateMs('round trip', 'jgroups', rtMs) + runEstimateMs('one way', 'jgroups', owMs));
  return ms;
}

function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** samples, p50, p99, p99.9, max (µs). */
function stats(values: number[]): string[] {
  const s = [...values].sort((a, b) => a - b);
  const f = (n: number): string => (Number.isFinite(n) ? n.toFixed(0) : '—');
  return [String(s.length), f(percentile(s, 0.5)), f(percentile(s, 0.99)), f(percentile(s, 0.999)), f(s[s.length - 1] ?? NaN)];
}

function failure(err: unknown): string {
  return `failed: ${(err as Error).message.slice(0, 100)}`;
}

// ---------------------------------------------------------------- round trip

async function pingPair(lab: LabType, name: string, echo: [string, string[]], ping: [string, string[]]): Promise<PingResult> {
  const e = watch(lab.spawn(1, echo[0], echo[1]), `${name} echo h1`);
  let p: Proc | undefined;
  try {
    await e.ready;
    p = watch(lab.spawn(0, ping[0], ping[1]), `${name} ping h0`);
    return (await p.result) as unknown as PingResult;
  } finally {
    p?.kill();
    e.kill();
  }
}

async function roundTrip(lab: LabType, built: Built, durationMs: number, include: (id: LatencySystem) => boolean, progress: Progress): Promise<string[][]> {
  const rows: string[][] = [];
  const measure = async (id: LatencySystem, run: () => Promise<PingResult>, label = LABELS[id]): Promise<void> => {
    if (!include(id)) return;
    progress.say(`round trip: ${label}`);
    try {
      const r = await run();
      rows.push([label, ...stats(r.rttUs), `${r.sent - r.received} of ${r.sent} not echoed`]);
    } catch (err) {
      rows.push([label, '', '', '', '', '', failure(err)]);
    }
    progress.done(runEstimateMs('round trip', id, durationMs));
  };
  const skipped = (id: LatencySystem, why: string | undefined): void => {
    if (include(id)) rows.push([LABELS[id], '', '', '', '', '', `skipped: ${why ?? 'not built'}`]);
  };
  const groupA = randomGroup();
  const groupB = randomGroup();
  // blipcast: bench/latency-worker.ts (one channel per direction).
  await measure('blipcast', () => {
    const base = { groupA, groupB, port: randomPort(), portB: randomPort(), ttl: 1, rate: ROUND_TRIP_RATE, durationMs, warmupMs: WARMUP_MS, size: MESSAGE_BYTES, emulatedLoss: 0 };
    return pingPair(lab, 'blipcast', [process.execPath, [LATENCY_WORKER, JSON.stringify({ ...base, role: 'echo', iface: lab.hosts[1]!.ipv4 })]],
      [process.execPath, [LATENCY_WORKER, JSON.stringify({ ...base, role: 'ping', iface: lab.hosts[0]!.ipv4 })]]);
  });
  // Raw node:dgram: the same pacing, size and warm-up discard, one datagram per message each way.
  await measure('dgram', () => {
    const port = randomPort();
    const portB = randomPort();
    const cfg = (role: DgramLatencyConfig['role'], host: number): string => {
      const c: DgramLatencyConfig = {
        role, groupA, groupB, port, portB, iface: lab.hosts[host]!.ipv4, ttl: 1, rate: ROUND_TRIP_RATE, durationMs, warmupMs: WARMUP_MS,
        size: MESSAGE_BYTES,
      };
      return JSON.stringify(c);
    };
    return pingPair(lab, 'dgram', [process.execPath, [DGRAM_LATENCY_WORKER, cfg('echo', 1)]], [process.execPath, [DGRAM_LATENCY_WORKER, cfg('ping', 0)]]);
  });
  const cPing = (bin: string) => (): Promise<PingResult> => {
    const port = randomPort();
    const args = (host: number, role: string): string[] => [`role=${role}`, `group=${groupA}`, `groupB=${groupB}`, `port=${port}`, `portB=${port + 1}`, ifaceArg(lab, host, bin),
      `rate=${ROUND_TRIP_RATE}`, `durationMs=${durationMs}`, `warmupMs=${WARMUP_MS}`, 'idleMs=3000'];
    return pingPair(lab, bin, [bin, args(1, 'echo')], [bin, args(0, 'ping')]);
  };
  if (built.norm) await measure('norm', cPing(built.norm));
  else skipped('norm', built.skipped.get('norm'));
  if (built.pgm) await measure('pgm', cPing(built.pgm));
  else skipped('pgm', built.skipped.get('pgm'));
  for (const variant of built.jgroups ? JGROUPS_VARIANTS : []) {
    await measure('jgroups', () => {
      const group = randomGroup();
      const port = randomPort();
      const cluster = `rtt-${process.pid}-${Math.floor(Math.random() * 1e9)}`;
      const args = (role: string): string[] => [`role=${role}`, `cluster=${cluster}`, 'members=2', `rate=${ROUND_TRIP_RATE}`, `durationMs=${durationMs}`, `warmupMs=${WARMUP_MS}`, ...variant.args];
      return pingPair(lab, 'jgroups', jvmCommand(built, lab, 1, group, port, args('echo')), jvmCommand(built, lab, 0, group, port, args('ping')));
    }, variant.label);
  }
  if (!built.jgroups) skipped('jgroups', built.skipped.get('jgroups'));
  return rows;
}

// ---------------------------------------------------------------- one-way at loss

/** The harnesses' oneway-recv line (harness-common.h, JGroupsHarness.java). */
interface HarnessOnewayRecv { expected: number; delivered: number; duplicates: number; stray: number; latUs: number[] }
interface HarnessOnewaySend { sent: number; written: number }

/** Receiver on h1 with the loss rule freshly set (its drop counter starts at 0), sender on h0; both results and the datagrams dropped. */
async function onewayPair(lab: LabType, name: string, rx: [string, string[]], tx: [string, string[]], selfEnding: boolean): Promise<{ tx: unknown; rx: unknown; drops: number }> {
  await lab.setLoss(1, ONEWAY_LOSS);
  const [t, r] = await pair(lab, name, rx, tx, selfEnding);
  return { tx: t, rx: r, drops: await lab.lossDrops(1) };
}

async function oneway(lab: LabType, built: Built, durationMs: number, include: (id: LatencySystem) => boolean, progress: Progress): Promise<string[][]> {
  const rows: string[][] = [];
  const blank = (label: string, note: string): string[] => [label, '', '', '', '', '', '', note];
  const warmup = Math.round((ONEWAY_RATE * ONEWAY_WARMUP_MS) / 1000);
  const count = warmup + Math.round((ONEWAY_RATE * durationMs) / 1000);

  if (include('blipcast')) {
    progress.say(`one way at loss: ${LABELS.blipcast}`);
    try {
      const one: LatencyConfig = {
        role: 'oneway-recv', groupA: randomGroup(), groupB: randomGroup(), port: randomPort(), portB: randomPort(), iface: lab.hosts[1]!.ipv4, ttl: 1,
        rate: ONEWAY_RATE, durationMs, warmupMs: 0, size: MESSAGE_BYTES, emulatedLoss: 0,
      };
      const run = await onewayPair(lab, 'blipcast oneway', [process.execPath, [LATENCY_WORKER, JSON.stringify(one)]],
        [process.execPath, [LATENCY_WORKER, JSON.stringify({ ...one, role: 'oneway-send', iface: lab.hosts[0]!.ipv4 })]], true);
      const r = run.rx as OnewayResult;
      const sent = (run.tx as { sent: number }).sent;
      rows.push([LABELS.blipcast, ...stats([...r.directUs, ...r.repairedUs]), `${sent - r.delivered} of ${sent}`, `${run.drops} datagrams dropped at h1`]);
      rows.push(['  blipcast, repaired only', ...stats(r.repairedUs), '', `original datagram lost; ${r.protocol.naksSent} NAKs sent, ${r.protocol.duplicates} duplicates`]);
    } catch (err) {
      rows.push(blank(LABELS.blipcast, failure(err)));
    }
    progress.done(runEstimateMs('one way', 'blipcast', durationMs));
  }
  const harnessRow = (label: string, run: { tx: unknown; rx: unknown; drops: number }, note = ''): void => {
    const r = run.rx as HarnessOnewayRecv;
    const measured = Math.max(0, Math.min((run.tx as HarnessOnewaySend).sent, count) - warmup);
    const extra = [r.duplicates ? `${r.duplicates} duplicates` : '', r.stray ? `${r.stray} unreadable records` : '', note].filter((x) => x !== '');
    rows.push([label, ...stats(r.latUs), `${measured - r.delivered} of ${measured}`, [`${run.drops} datagrams dropped at h1`, ...extra].join('; ')]);
  };
  const attempt = async (id: LatencySystem, label: string, fn: () => Promise<void>): Promise<void> => {
    progress.say(`one way at loss: ${label}`);
    try {
      await fn();
    } catch (err) {
      rows.push(blank(label, failure(err)));
    }
    progress.done(runEstimateMs('one way', id, durationMs));
  };
  const common = [`count=${count}`, `warmup=${warmup}`, `msgRate=${ONEWAY_RATE}`, `idleMs=${ONEWAY_IDLE_MS}`, 'lingerMs=120000'];
  const cSystem = async (id: LatencySystem, bin: string | undefined): Promise<void> => {
    if (!include(id)) return;
    if (bin === undefined) {
      rows.push(blank(LABELS[id], `skipped: ${built.skipped.get(id) ?? 'not built'}`));
      return;
    }
    await attempt(id, LABELS[id], async () => {
      const group = randomGroup();
      const port = randomPort();
      const args = (host: number, role: string): string[] => [`role=${role}`, `group=${group}`, `port=${port}`, ifaceArg(lab, host, bin), ...common];
      harnessRow(LABELS[id], await onewayPair(lab, `${id} oneway`, [bin, args(1, 'oneway-recv')], [bin, args(0, 'oneway-send')], false));
    });
  };
  await cSystem('norm', built.norm);
  await cSystem('pgm', built.pgm);
  if (include('jgroups')) {
    if (built.jgroups === undefined) rows.push(blank(LABELS.jgroups, `skipped: ${built.skipped.get('jgroups') ?? 'not built'}`));
    for (const variant of built.jgroups ? JGROUPS_VARIANTS : []) {
      await attempt('jgroups', variant.label, async () => {
        const group = randomGroup();
        const port = randomPort();
        const cluster = `oneway-${process.pid}-${Math.floor(Math.random() * 1e9)}`;
        const args = (role: string): string[] => [`role=${role}`, `cluster=${cluster}`, 'members=2', ...common, ...variant.args];
        harnessRow(variant.label, await onewayPair(lab, 'jgroups oneway', jvmCommand(built, lab, 1, group, port, args('oneway-recv')), jvmCommand(built, lab, 0, group, port, args('oneway-send')), false));
      });
    }
  }
  return rows;
}

// ---------------------------------------------------------------- both tables

/** Runs both latency measurements and prints their tables. Leaves the receiving host without a loss rule. */
export async function latency(lab: LabType, built: Built, quick: boolean, include: (id: LatencySystem) => boolean, progress: Progress): Promise<void> {
  const { rtMs, owMs } = durations(quick);
  const rt = await roundTrip(lab, built, rtMs, include, progress);
  let ow: string[][];
  try {
    ow = await oneway(lab, built, owMs, include, progress);
  } finally {
    await lab.setLoss(1, 0);
  }
  console.log(`\n2. Latency — 64 B round trip h0 → h1 → h0 at ${ROUND_TRIP_RATE} msgs/s, ${rtMs / 1000} s, first ${WARMUP_MS / 1000} s discarded, 0% loss, µs`);
  console.log('   raw node:dgram = one datagram per message each way, no protocol: the floor under the Node rows\n');
  console.log(formatTable(['system', 'samples', 'p50', 'p99', 'p99.9', 'max', 'notes'], rt));
  console.log(`\n3. Latency at loss — 64 B one way h0 → h1 at ${ONEWAY_RATE} msgs/s, ${owMs / 1000} s measured, ${ONEWAY_LOSS * 100}% of UDP datagrams arriving at h1 dropped (nftables), µs`);
  console.log('   now − send time (CLOCK_MONOTONIC, shared by the lab namespaces) of every message that arrived; never arrived = measured messages the receiver did not get');
  console.log(`   about ${ONEWAY_LOSS * 100}% of the messages are repaired ones: for every system p99 and above are repair latency; delivery is in order, so`);
  console.log('   direct messages behind a gap wait for its repair too: where repairs take longer than the ~50 ms between losses, even p50 is repair-bound');
  console.log('   blipcast, repaired only = the messages whose original datagram was lost (the receiver records which sequence numbers arrived in an original datagram)');
  console.log(`   the references do not measure their first ${ONEWAY_WARMUP_MS / 1000} s; blipcast's sender starts once it has seen the receiver\n`);
  console.log(formatTable(['system', 'samples', 'p50', 'p99', 'p99.9', 'max', 'never arrived', 'notes'], ow));
}
